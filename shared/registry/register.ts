/**
 * `register`: store a model folder as a version and move aliases to it. The one core function
 * behind the register action and `modelship register`.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { MODEL_METADATA_FILE } from '../model/index.ts';
import { code, escapeMarkdown, table } from '../report/index.ts';
import { ConfigurationError, formatBytes, type Logger } from '../util/index.ts';
import { openRegistry } from './index.ts';
import { assertAlias, assertName, nameProblem } from './reference.ts';
import { shortDigest } from './store.ts';
import type { AliasMove, RegisteredVersion } from './types.ts';

export interface RegisterRequest {
  readonly model: string;
  readonly name?: string;
  readonly registry: string;
  readonly aliases: readonly string[];
  readonly report?: string;
  readonly dataset?: string;
  readonly username?: string;
  readonly password?: string;
}

export interface RegisterResult {
  readonly version: RegisteredVersion;
  readonly moves: readonly AliasMove[];
  readonly registry: string;
}

/** The model name: the input, else modelship.json's name; validated. */
export async function modelName(model: string, given: string | undefined): Promise<string> {
  if (given !== undefined && given !== '') return assertName(given, "input 'name'");
  let fromMetadata: unknown;
  try {
    fromMetadata = (JSON.parse(await readFile(path.join(model, MODEL_METADATA_FILE), 'utf8')) as { name?: unknown }).name;
  } catch {
    fromMetadata = undefined;
  }
  if (typeof fromMetadata === 'string' && nameProblem(fromMetadata) === undefined) return fromMetadata;
  throw new ConfigurationError(
    "input 'name' is not set and the model folder does not name the model.",
    "Set 'name' in the step's 'with:' (or name: in modelship.yml), e.g. name: fashion.",
  );
}

export async function registerModel(
  req: RegisterRequest,
  ctx: { log: Logger; env: Readonly<Record<string, string | undefined>>; cwd: string; now: () => Date },
): Promise<RegisterResult> {
  const model = path.resolve(ctx.cwd, req.model);
  const name = await modelName(model, req.name);
  const aliases = [...new Set(req.aliases.map((a) => assertAlias(a.trim(), "input 'alias'")))];
  if (req.password) ctx.log.secret(req.password);
  const registry = await openRegistry(req.registry, {
    log: ctx.log,
    env: ctx.env,
    cwd: ctx.cwd,
    ...(req.username ? { username: req.username } : {}),
    ...(req.password ? { password: req.password } : {}),
  });
  const version = await ctx.log.group(`Registering ${name} in ${registry.display}`, async () => {
    const v = await registry.push(model, {
      name,
      ...(req.report ? { report: path.resolve(ctx.cwd, req.report) } : {}),
      ...(req.dataset ? { dataset: path.resolve(ctx.cwd, req.dataset) } : {}),
      env: ctx.env,
      now: ctx.now,
    });
    ctx.log.info(
      v.created
        ? `${name}:${v.version} registered (${shortDigest(v.digest)}, ${v.layers.length} files, ${formatBytes(v.uploadedBytes)} uploaded)`
        : `${name}:${v.version} already holds this model (${shortDigest(v.digest)}); nothing new registered`,
    );
    return v;
  });
  const moves: AliasMove[] = [];
  for (const alias of aliases) {
    const move = await registry.setAlias(name, alias, version.version);
    ctx.log.info(`${name}@${alias}: ${move.from ? `v${move.from.version}` : '(new)'} → v${move.to.version}`);
    moves.push(move);
  }
  const final = moves.length > 0 ? { ...version, aliases: [...new Set([...version.aliases, ...aliases])].sort() } : version;
  return { version: final, moves, registry: registry.display };
}

/** The job summary of a registration. Pure. */
export function registerSummary(r: RegisterResult): string {
  const v = r.version;
  const lines: string[] = [];
  lines.push(
    `### ${v.created ? '📦' : '♻️'} ${escapeMarkdown(v.name)} v${v.version} ${v.created ? 'registered' : 'was already registered'}`,
  );
  lines.push('');
  lines.push(`${code(v.ref)}`);
  lines.push('');
  if (r.moves.length > 0) {
    lines.push(
      table(
        ['alias', 'from', 'to'],
        r.moves.map((m) => [
          code(m.alias),
          m.from ? (m.from.digest === m.to.digest ? `v${m.from.version} (unchanged)` : `v${m.from.version}`) : '(new)',
          `v${m.to.version}`,
        ]),
      ),
    );
    lines.push('');
  }
  const metrics = Object.entries(v.config.metrics);
  if (metrics.length > 0) {
    lines.push(
      table(
        ['metric', 'value'],
        metrics.map(([k, val]) => [escapeMarkdown(k), Number.isInteger(val) ? String(val) : val.toFixed(4)]),
        ['left', 'right'],
      ),
    );
    lines.push('');
  }
  const lineage: string[] = [];
  if (v.config.parent) {
    const p = v.config.parent;
    lineage.push(
      `parent ${p.version !== undefined ? `v${p.version}` : ''}${p.digest ? ` ${code(shortDigest(p.digest))}` : ''}`
        .replace(/\s+/g, ' ')
        .trim(),
    );
  }
  if (v.config.dataset) lineage.push(`data ${code(shortDigest(v.config.dataset.digest))}`);
  if (v.config.git?.commit) lineage.push(`commit ${code(v.config.git.commit.slice(0, 7))}`);
  if (v.config.run?.url && /^https:\/\/[^\s)]+$/.test(v.config.run.url)) lineage.push(`[run](${v.config.run.url})`);
  if (v.config.gatePassed !== undefined) lineage.push(v.config.gatePassed ? 'gate ✅ passed' : 'gate ❌ did not pass');
  if (lineage.length > 0) lines.push(lineage.join(' · '));
  return `${lines.join('\n').trimEnd()}\n`;
}
