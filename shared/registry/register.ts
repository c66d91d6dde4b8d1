/**
 * `register`: store a model folder as a version and move aliases to it. The one core function
 * behind the register action and `modelship register`.
 */
import path from 'node:path';
import { nameError } from '../config/index.ts';
import { MODEL_METADATA_FILE } from '../model/index.ts';
import { ConfigurationError, folder, formatBytes, readTextInside, shortDigest, type Logger, type Provenance } from '../util/index.ts';
import { openRegistry } from './index.ts';
import { assertAlias, assertName, nameProblem } from './reference.ts';

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
    fromMetadata = (JSON.parse(await readTextInside(folder(model, 'model folder', model), MODEL_METADATA_FILE)) as { name?: unknown }).name;
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    fromMetadata = undefined;
  }
  if (typeof fromMetadata === 'string') {
    // The one name grammar: a model folder naming itself badly says so, rather than "not set".
    const problem = nameProblem(fromMetadata);
    if (problem === undefined) return fromMetadata;
    const err = nameError(fromMetadata, `the name in ${path.join(model, MODEL_METADATA_FILE)}`, problem);
    throw new ConfigurationError(
      err.message,
      "Set 'name' in the step's 'with:' (or name: in modelship.yml) to a valid name, e.g. name: fashion.",
    );
  }
  throw new ConfigurationError(
    "input 'name' is not set and the model folder does not name the model.",
    "Set 'name' in the step's 'with:' (or name: in modelship.yml), e.g. name: fashion.",
  );
}

export async function registerModel(
  req: RegisterRequest,
  ctx: { log: Logger; cwd: string; now: () => Date; provenance?: Provenance },
): Promise<RegisterResult> {
  const model = path.resolve(ctx.cwd, req.model);
  const name = await modelName(model, req.name);
  const aliases = [...new Set(req.aliases.map((a) => assertAlias(a.trim(), "input 'alias'")))];
  if (req.password) ctx.log.secret(req.password);
  const registry = await openRegistry(req.registry, {
    log: ctx.log,
    cwd: ctx.cwd,
    ...(req.username ? { username: req.username } : {}),
    ...(req.password ? { password: req.password } : {}),
  });
  const version = await ctx.log.group(`Registering ${name} in ${registry.display}`, async () => {
    const v = await registry.push(model, {
      name,
      ...(req.report ? { report: path.resolve(ctx.cwd, req.report) } : {}),
      ...(req.dataset ? { dataset: path.resolve(ctx.cwd, req.dataset) } : {}),
      ...(ctx.provenance ? { provenance: ctx.provenance } : {}),
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
