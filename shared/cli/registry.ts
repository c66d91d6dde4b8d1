/**
 * `modelship registry list|show|pull|promote|rollback|diff`: the registry from the command line,
 * over either transport. Human-readable tables on stdout (or JSON with --json), logs on stderr.
 */
import path from 'node:path';
import { loadConfig } from '../config/index.ts';
import { allSteps, configSchema } from '../steps/index.ts';
import {
  type AliasMove,
  assertAlias,
  DEFAULT_REGISTRY,
  openRegistry,
  parseReference,
  type Reference,
  type Registry,
  type VersionDetails,
  type VersionInfo,
} from '../registry/index.ts';
import { ConfigurationError, formatBytes, type Logger } from '../util/index.ts';
import { parseOptions } from './args.ts';

export interface RegistryIo {
  readonly log: Logger;
  readonly stdout: NodeJS.WritableStream;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
}

const COMMANDS: Readonly<Record<string, { args: string; summary: string; positionals: number }>> = {
  list: { args: '<name>', summary: 'every version with its aliases and metrics', positionals: 1 },
  show: { args: '<ref>', summary: 'the metadata, files and lineage of a version', positionals: 1 },
  pull: { args: '<ref> <dir>', summary: 'fetch a version into a folder (every blob verified)', positionals: 2 },
  promote: {
    args: '<name:version> <alias>',
    summary: 'point an alias at a version (the previous target is kept for rollback)',
    positionals: 2,
  },
  rollback: { args: '<name> <alias>', summary: 'point an alias back at its previous target', positionals: 2 },
  diff: { args: '<ref> <ref>', summary: "two versions' metrics and params side by side", positionals: 2 },
};

export function registryHelp(): string {
  return [
    'modelship registry: manage models in a registry (a local folder or oci://host[:port]/path).',
    '',
    'Usage: modelship registry <command> [arguments] [--registry R] [--username U] [--password P] [--json]',
    '',
    ...Object.entries(COMMANDS).map(([c, d]) => `  ${`${c} ${d.args}`.padEnd(32)}${d.summary}`),
    '',
    'References: name (latest), name:7, name@production, name@sha256:<hex>, oci://host/path/name@production;',
    'a bare alias (production) when modelship.yml names the model.',
    '',
    'Options:',
    `  --registry R   a local folder or oci://host[:port]/path (default: registry.url in modelship.yml, else ${DEFAULT_REGISTRY})`,
    '  --username U   registry user name (default: MODELSHIP_REGISTRY_USERNAME, else registry.username in modelship.yml)',
    '  --password P   registry password or token (default: the MODELSHIP_REGISTRY_PASSWORD environment variable)',
    '  --config F     modelship.yml to read defaults from',
    '  --json         print JSON instead of tables',
    '',
    'Examples:',
    '  modelship registry list fashion',
    '  modelship registry promote fashion:3 production',
    '  modelship registry rollback fashion production',
    '  modelship registry pull fashion@production ./baseline --registry oci://ghcr.io/acme/models',
  ].join('\n');
}

interface Parsed {
  command: string;
  positionals: string[];
  options: { registry?: string; username?: string; password?: string; config?: string; json: boolean; help: boolean };
}

export function parseRegistryArgs(argv: readonly string[]): Parsed {
  const { values, positionals, help } = parseOptions(
    argv,
    { valued: ['registry', 'username', 'password', 'config'], booleans: ['json'], positionals: true },
    'registry',
  );
  const command = positionals.shift() ?? '';
  const { json, ...valued } = values;
  return { command, positionals, options: { ...valued, json: json === 'true', help } };
}

function metricSummary(metrics: Readonly<Record<string, number>>, max = 3): string {
  const entries = Object.entries(metrics).slice(0, max);
  return entries.map(([k, v]) => `${k} ${fmt(v)}`).join(' · ');
}

function fmt(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(4);
  if (v === undefined) return '—';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** A parameter as written (0.001, not 0.0010). */
function param(v: unknown): string {
  return typeof v === 'number' ? String(v) : fmt(v);
}

function columns(rows: readonly (readonly string[])[]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export function formatList(name: string, display: string, versions: readonly VersionInfo[]): string {
  if (versions.length === 0) return `${name} has no versions in ${display}.`;
  const rows = [['version', 'digest', 'created', 'aliases', 'metrics']];
  for (const v of [...versions].reverse()) {
    rows.push([
      String(v.version),
      v.digest.slice(0, 19),
      (v.created ?? '').replace('T', ' ').slice(0, 16),
      v.aliases.join(',') || '-',
      metricSummary(v.metrics),
    ]);
  }
  return `${name} in ${display}\n${columns(rows)}`;
}

export function formatShow(d: VersionDetails): string {
  const c = d.config;
  const rows: string[][] = [];
  rows.push(['ref', d.resolved.ref]);
  rows.push(['aliases', d.resolved.aliases.join(', ') || '-']);
  rows.push(['created', c.created]);
  if (c.task)
    rows.push([
      'task',
      `${c.task}${c.classes ? ` · ${c.classes.length} classes` : ''}${c.inputShape ? ` · input ${c.inputShape.join('×')}` : ''}`,
    ]);
  rows.push([
    `metrics (${c.metricsSource})`,
    Object.entries(c.metrics)
      .map(([k, v]) => `${k} ${fmt(v)}`)
      .join(', ') || '-',
  ]);
  if (c.gatePassed !== undefined) rows.push(['gate', c.gatePassed ? 'passed' : 'did not pass']);
  if (c.dataset) {
    const s = c.dataset.split;
    rows.push([
      'data',
      `${c.dataset.digest}${s?.ratios ? ` (split ${s.ratios.join('/')}${s.seed !== undefined ? `, seed ${s.seed}` : ''})` : ''}`,
    ]);
  }
  if (c.params)
    rows.push([
      'params',
      Object.entries(c.params)
        .map(([k, v]) => `${k}=${param(v)}`)
        .join(' '),
    ]);
  if (c.backend || c.versions)
    rows.push(['backend', [c.backend, ...Object.entries(c.versions ?? {}).map(([k, v]) => `${k} ${v}`)].filter(Boolean).join(' · ')]);
  if (c.git)
    rows.push(['git', [c.git.commit ? `commit ${c.git.commit}` : '', c.git.ref ?? '', c.git.repository ?? ''].filter(Boolean).join(' · ')]);
  if (c.run?.url) rows.push(['run', c.run.url]);
  for (const l of d.layers) rows.push(['file', `${l.title} (${formatBytes(l.size)}, ${l.mediaType})`]);
  const lineage = d.lineage.map((l, i) =>
    i === 0
      ? `v${l.version}`
      : `${l.name && l.name !== d.resolved.name ? `${l.name}:` : 'v'}${l.version ?? '?'}${l.digest ? ` (${l.digest.slice(0, 19)})` : ''}`,
  );
  rows.push(['lineage', lineage.length > 1 ? lineage.join(' ← ') : `v${d.resolved.version} (no recorded parent)`]);
  return `${d.resolved.name}:${d.resolved.version}  ${d.resolved.digest}\n${columns(rows)}`;
}

export function formatDiff(a: VersionDetails, b: VersionDetails): string {
  const la = `${a.resolved.name}:${a.resolved.version}`;
  const lb = `${b.resolved.name}:${b.resolved.version}`;
  const out: string[] = [];
  const metricNames = [...new Set([...Object.keys(a.config.metrics), ...Object.keys(b.config.metrics)])];
  const mrows = [['metric', la, lb, 'change']];
  for (const m of metricNames) {
    const va = a.config.metrics[m];
    const vb = b.config.metrics[m];
    const change = va !== undefined && vb !== undefined ? `${vb - va >= 0 ? '+' : ''}${(vb - va).toFixed(4)}` : '—';
    mrows.push([m, fmt(va), fmt(vb), change]);
  }
  out.push(metricNames.length > 0 ? columns(mrows) : 'no metrics recorded');
  const pa = a.config.params ?? {};
  const pb = b.config.params ?? {};
  const keys = [...new Set([...Object.keys(pa), ...Object.keys(pb)])];
  const prows = [['param', la, lb]];
  for (const k of keys) if (JSON.stringify(pa[k]) !== JSON.stringify(pb[k])) prows.push([k, param(pa[k]), param(pb[k])]);
  out.push('');
  out.push(prows.length > 1 ? columns(prows) : 'params: identical');
  if (a.config.dataset?.digest !== b.config.dataset?.digest)
    out.push('', `data: ${a.config.dataset?.digest ?? '—'} → ${b.config.dataset?.digest ?? '—'}`);
  return out.join('\n');
}

function formatMove(m: AliasMove): string {
  const from = m.from ? `v${m.from.version}` : '(new)';
  return `${m.name}@${m.alias}: ${from} → v${m.to.version}${m.action === 'rollback' ? ' (rolled back)' : ''}`;
}

export async function registryCommand(argv: string[], io: RegistryIo): Promise<number> {
  const p = parseRegistryArgs(argv);
  if (p.options.help || p.command === '' || p.command === 'help') {
    io.stdout.write(`${registryHelp()}\n`);
    return p.command === '' && !p.options.help ? 2 : 0;
  }
  const spec = COMMANDS[p.command];
  if (!spec) throw new ConfigurationError(`registry: unknown command '${p.command}'.`, `Commands: ${Object.keys(COMMANDS).join(', ')}.`);
  if (p.positionals.length !== spec.positionals) {
    throw new ConfigurationError(
      `registry ${p.command} takes ${spec.args}, got ${p.positionals.length} argument(s).`,
      `Usage: modelship registry ${p.command} ${spec.args}`,
    );
  }
  const { config } = await loadConfig(p.options.config, io.cwd, configSchema(allSteps));
  const section = config.sections['registry'] ?? {};
  const defaultName = config.name;
  const refOpts = { ...(defaultName ? { defaultName } : {}), where: `registry ${p.command}` };
  const refs: Reference[] = [];
  if (['show', 'pull', 'diff'].includes(p.command)) {
    refs.push(parseReference(p.positionals[0], refOpts));
    if (p.command === 'diff') refs.push(parseReference(p.positionals[1], refOpts));
  } else {
    refs.push(
      parseReference(p.positionals[0], {
        ...refOpts,
        ...(p.command === 'list' || p.command === 'rollback' ? { defaultName: undefined } : {}),
      }),
    );
  }
  const inline = refs.find((r) => r.registry !== undefined)?.registry;
  const location = p.options.registry ?? inline ?? (section['url'] as string | undefined) ?? DEFAULT_REGISTRY;
  const password = p.options.password ?? io.env['MODELSHIP_REGISTRY_PASSWORD'];
  if (password) io.log.secret(password);
  const username = p.options.username ?? io.env['MODELSHIP_REGISTRY_USERNAME'] ?? (section['username'] as string | undefined);
  const registry: Registry = await openRegistry(location, {
    log: io.log,
    cwd: io.cwd,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(defaultName ? { defaultName } : {}),
  });
  const out = (text: string, json: unknown): void => {
    io.stdout.write(p.options.json ? `${JSON.stringify(json, null, 2)}\n` : `${text}\n`);
  };
  const ref0 = refs[0];
  switch (p.command) {
    case 'list': {
      if (ref0.version !== undefined || ref0.alias !== undefined || ref0.digest !== undefined) {
        throw new ConfigurationError(
          `registry list takes a model name, got '${p.positionals[0]}'.`,
          `Write modelship registry list ${ref0.name}`,
        );
      }
      const versions = await registry.list(ref0.name);
      out(formatList(ref0.name, registry.display, versions), versions);
      return 0;
    }
    case 'show': {
      const d = await registry.show(ref0);
      out(formatShow(d), d);
      return 0;
    }
    case 'pull': {
      const pulled = await registry.pull(ref0, path.resolve(io.cwd, p.positionals[1]));
      out(
        `pulled ${pulled.resolved.ref} into ${path.relative(io.cwd, pulled.dir) || '.'} (${pulled.files.length} files, ${formatBytes(pulled.bytes)})`,
        {
          dir: pulled.dir,
          ...pulled.resolved,
          files: pulled.files,
          bytes: pulled.bytes,
        },
      );
      return 0;
    }
    case 'promote': {
      if (ref0.alias !== undefined) {
        throw new ConfigurationError(
          `registry promote needs a version, got '${p.positionals[0]}'.`,
          `Write modelship registry promote ${ref0.name}:<version> ${p.positionals[1]}`,
        );
      }
      const alias = assertAlias(p.positionals[1]);
      const target = await registry.resolve(ref0);
      const move = await registry.setAlias(target.name, alias, target.version);
      out(formatMove(move), move);
      return 0;
    }
    case 'rollback': {
      if (ref0.version !== undefined || ref0.alias !== undefined || ref0.digest !== undefined) {
        throw new ConfigurationError(
          `registry rollback takes a model name and an alias, got '${p.positionals[0]}'.`,
          `Write modelship registry rollback ${ref0.name} ${p.positionals[1]}`,
        );
      }
      const move = await registry.rollback(ref0.name, assertAlias(p.positionals[1]));
      out(formatMove(move), move);
      return 0;
    }
    case 'diff': {
      const [a, b] = await Promise.all([registry.show(refs[0]), registry.show(refs[1])]);
      out(formatDiff(a, b), {
        a: { ref: a.resolved, metrics: a.config.metrics, params: a.config.params ?? {} },
        b: { ref: b.resolved, metrics: b.config.metrics, params: b.config.params ?? {} },
      });
      return 0;
    }
    default:
      return 2;
  }
}
