/**
 * `modelship feedback export|stats`: the model server's feedback store, turned into a data set
 * folder setup-data reads (export), or summed up (stats). Outputs of export are `name=value` lines
 * on stdout, like a step's; the log goes to stderr.
 *
 *   modelship feedback export --store .modelship/feedback --out .modelship/feedback-data
 *   modelship setup-data --source data/ --source .modelship/feedback-data
 */
import path from 'node:path';
import { loadConfig, parseDuration } from '../config/index.ts';
import { allSteps, configSchema } from '../steps/index.ts';
import { ConfigurationError, type Logger } from '../util/index.ts';
import { parseOptions } from './args.ts';

export interface FeedbackIo {
  readonly log: Logger;
  readonly stdout: NodeJS.WritableStream;
  readonly cwd: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly now?: () => Date;
}

export const DEFAULT_STORE = '.modelship/feedback';
export const DEFAULT_EXPORT_DIR = '.modelship/feedback-data';

export function feedbackHelp(): string {
  return [
    "modelship feedback: the model server's feedback store (ground truth sent to :feedback).",
    '',
    'Usage:',
    '  modelship feedback export [--store DIR] [--out DIR] [--format auto|image-folder|csv] [--model NAME]',
    '                            [--version V …] [--since T] [--until T] [--only-wrong] [--label-column C]',
    '  modelship feedback stats [--store DIR] [--model NAME]',
    '',
    'Options:',
    `  --store DIR       the store folder (default: serve.feedback-dir in modelship.yml, else ${DEFAULT_STORE})`,
    `  --out DIR         the data set folder to write, replaced whole (default ${DEFAULT_EXPORT_DIR})`,
    '  --format F        image-folder (<label>/<id>.png, for image models), csv (feature columns, then the label)',
    '                    or auto (default: image-folder for uint8 [h,w,1|3] inputs, else csv)',
    '  --model NAME      the model to export (default: the only one in the store, else modelship.yml name)',
    '  --version V       only feedback on this version (repeat it for several)',
    '  --since T         only feedback that arrived at or after T: an ISO time (2026-12-01T00:00:00Z) or an age (7d, 12h)',
    '  --until T         only feedback that arrived before T (the same forms)',
    '  --only-wrong      only the predictions that were wrong (default: every labelled example)',
    '  --label-column C  the label column of a CSV export (default label)',
    '  --config F        modelship.yml to read',
    '',
    'Every example records where it came from: the request id in its file name, and a line of',
    'provenance.jsonl with the id, model, version, digest, prediction, label and times.',
    '',
    'Prints dataset-dir=…, examples=…, wrong=…, format=…, model=… (export).',
  ].join('\n');
}

/** An ISO time, or an age before now (7d, 12h). */
export function timeOption(text: string, option: string, now: Date): Date {
  const age = parseDuration(text);
  if (age !== undefined) return new Date(now.getTime() - age);
  const t = Date.parse(text);
  if (!/^\d{4}-\d{2}-\d{2}/.test(text.trim()) || Number.isNaN(t)) {
    throw new ConfigurationError(
      `feedback export: ${option} '${text}' is neither a time nor an age.`,
      `Write an ISO time such as ${option} 2026-12-01T00:00:00Z, or an age such as ${option} 7d.`,
    );
  }
  return new Date(t);
}

function single(values: Readonly<Record<string, string>>, name: string): string | undefined {
  const v = values[name];
  if (v !== undefined && v.includes('\n'))
    throw new ConfigurationError(`feedback: --${name} is given more than once.`, `Give --${name} once.`);
  return v;
}

export async function feedbackCommand(argv: string[], io: FeedbackIo): Promise<number> {
  const { values, positionals, help } = parseOptions(
    argv,
    {
      valued: ['store', 'out', 'format', 'model', 'version', 'since', 'until', 'label-column', 'config'],
      booleans: ['only-wrong'],
      positionals: true,
    },
    'feedback',
  );
  const verb = positionals.shift();
  if (help || verb === undefined) {
    io.stdout.write(`${feedbackHelp()}\n`);
    return help ? 0 : 2;
  }
  if (verb !== 'export' && verb !== 'stats') {
    throw new ConfigurationError(`feedback: unknown command '${verb}'.`, 'Use modelship feedback export or modelship feedback stats.');
  }
  if (positionals.length)
    throw new ConfigurationError(`feedback ${verb}: unexpected argument '${positionals[0]}'.`, "See 'modelship feedback --help'.");
  const { config } = await loadConfig(single(values, 'config'), io.cwd, configSchema(allSteps));
  const fromFile = config.sections['serve']?.['feedback-dir'];
  const store = path.resolve(io.cwd, single(values, 'store') ?? (typeof fromFile === 'string' ? fromFile : DEFAULT_STORE));
  const feedback = await import('../feedback/index.ts');
  if (verb === 'stats') return stats(feedback, store, single(values, 'model'), io);

  const now = (io.now ?? (() => new Date()))();
  const format = single(values, 'format') ?? 'auto';
  if (!['auto', 'image-folder', 'csv'].includes(format)) {
    throw new ConfigurationError(
      `feedback export: --format '${format}' is not one of auto, image-folder, csv.`,
      'Use --format auto, image-folder or csv.',
    );
  }
  const contents = await feedback.readStore(store);
  const models = [...new Set(contents.records.map((r) => r.record.model))];
  const model = single(values, 'model') ?? (models.length > 1 ? config.name : undefined);
  const since = single(values, 'since');
  const until = single(values, 'until');
  const labelColumn = single(values, 'label-column');
  const versions = (values['version'] ?? '').split('\n').filter((v) => v.trim() !== '');
  const out = path.resolve(io.cwd, single(values, 'out') ?? DEFAULT_EXPORT_DIR);
  const r = await io.log.group(`export feedback from ${path.relative(io.cwd, store) || store}`, () =>
    feedback.exportFeedback({
      store,
      out,
      format: format as 'auto',
      ...(model ? { model } : {}),
      ...(versions.length ? { versions } : {}),
      ...(since ? { since: timeOption(since, '--since', now) } : {}),
      ...(until ? { until: timeOption(until, '--until', now) } : {}),
      ...(values['only-wrong'] === 'true' ? { onlyWrong: true } : {}),
      ...(labelColumn ? { labelColumn } : {}),
    }),
  );
  for (const p of [...r.torn, ...r.corrupt])
    io.log.warning(`${p.segment} line ${p.line}: ${p.kind === 'torn' ? 'torn (a write cut short)' : 'corrupt'}: ${p.reason}; skipped.`);
  const labels = Object.entries(r.labels)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([l, n]) => `${l} ${n}`)
    .join(', ');
  io.log.info(
    `${r.examples} example(s) of ${r.model} v${r.versions.join(', v')} (${r.wrong} predicted wrongly) as ${r.format} in ${path.relative(io.cwd, r.dir) || r.dir}: ${labels}` +
      `${r.skipped ? `; ${r.skipped} record(s) left out by the filters` : ''}${r.duplicates ? `; ${r.duplicates} repeated label(s), the later kept` : ''}.`,
  );
  for (const [name, value] of [
    ['dataset-dir', r.dir],
    ['examples', String(r.examples)],
    ['wrong', String(r.wrong)],
    ['format', r.format],
    ['model', r.model],
  ])
    io.stdout.write(`${name}=${value}\n`);
  return 0;
}

async function stats(
  feedback: typeof import('../feedback/index.ts'),
  store: string,
  model: string | undefined,
  io: FeedbackIo,
): Promise<number> {
  const c = await feedback.readStore(store);
  const rows = new Map<string, { model: string; version: string; correct: number; wrong: number; first: string; last: string }>();
  const { kept, duplicates } = feedback.latestPerPrediction(c.records.filter((s) => !model || s.record.model === model));
  for (const { record: r } of kept) {
    const k = `${r.model}\u0000${r.version}`;
    const row = rows.get(k) ?? { model: r.model, version: r.version, correct: 0, wrong: 0, first: r.time, last: r.time };
    if (r.label === r.predicted) row.correct++;
    else row.wrong++;
    if (r.time < row.first) row.first = r.time;
    if (r.time > row.last) row.last = r.time;
    rows.set(k, row);
  }
  io.stdout.write(
    `${path.relative(io.cwd, store) || store}: ${c.records.length} record(s) in ${c.segments} segment(s), ${c.bytes} bytes${c.torn.length ? `, ${c.torn.length} torn line(s)` : ''}${c.corrupt.length ? `, ${c.corrupt.length} corrupt line(s)` : ''}${duplicates ? `; ${duplicates} repeated label(s), the later counted` : ''}\n`,
  );
  for (const r of [...rows.values()].sort((a, b) =>
    a.model < b.model ? -1 : a.model > b.model ? 1 : Number(a.version) - Number(b.version),
  )) {
    const n = r.correct + r.wrong;
    io.stdout.write(
      `${r.model} v${r.version}: ${n} labelled, ${r.correct} correct (${((100 * r.correct) / n).toFixed(1)}%), ${r.wrong} wrong, ${r.first} → ${r.last}\n`,
    );
  }
  return 0;
}
