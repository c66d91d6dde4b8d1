/**
 * A strict parser for Prometheus's text exposition format (version 0.0.4, what prom-client and
 * every Prometheus client library serve on /metrics; an OpenMetrics `# EOF` line is accepted).
 *
 * Strict where a lenient parser would hide a broken server: a malformed line, an unknown TYPE, a
 * second TYPE or HELP for a name, a TYPE after the name's samples, a duplicate label, a bad escape
 * or a repeated series is an error naming the line. Values keep `NaN`, `+Inf`, `-Inf`.
 *
 * The well-known npm parser (parse-prometheus-text-format) is lenient and unmaintained since 2019,
 * and was not installable here; this one is ~150 lines with its own tests.
 */
import { type Labels, parseSampleValue } from './prometheus.ts';

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface ExpositionSample {
  /** The sample's own name (`x_bucket`, `x_sum`, `x_count` for a histogram `x`). */
  readonly name: string;
  readonly labels: Labels;
  readonly value: number;
  readonly timestampMs?: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly type: MetricType;
  readonly help?: string;
  readonly samples: readonly ExpositionSample[];
}

export class ExpositionError extends Error {
  override readonly name = 'ExpositionError';
  readonly line: number;
  constructor(line: number, message: string) {
    super(`line ${line}: ${message}`);
    this.line = line;
  }
}

const NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const TYPES: readonly MetricType[] = ['counter', 'gauge', 'histogram', 'summary', 'untyped'];
const SUFFIXES: Readonly<Record<MetricType, readonly string[]>> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

function parseValue(text: string, line: number): number {
  try {
    return parseSampleValue(text);
  } catch {
    throw new ExpositionError(line, `'${text}' is not a number`);
  }
}

function unescapeHelp(text: string): string {
  return text.replace(/\\(\\|n)/g, (_m, c: string) => (c === 'n' ? '\n' : '\\'));
}

interface Building {
  name: string;
  type: MetricType;
  help?: string;
  samples: ExpositionSample[];
  typed: boolean;
}

/** Parses an exposition into families by name, in the order they appear. */
export function parseExposition(text: string): Map<string, MetricFamily> {
  const families = new Map<string, Building>();
  const seenSeries = new Set<string>();
  let current: Building | undefined;
  const closed = new Set<string>();
  const lines = text.split('\n');
  let eof = false;

  const family = (name: string): Building => {
    let f = families.get(name);
    if (!f) {
      f = { name, type: 'untyped', samples: [], typed: false };
      families.set(name, f);
    }
    return f;
  };
  /** The family a sample name belongs to: a histogram x owns x_bucket, x_sum, x_count. */
  const owner = (sample: string): Building => {
    for (const f of families.values()) {
      if (!f.typed) continue;
      for (const s of SUFFIXES[f.type]) if (sample === f.name + s) return f;
    }
    return family(sample);
  };

  lines.forEach((raw, i) => {
    const n = i + 1;
    const line = raw.replace(/\r$/, '');
    if (eof) {
      if (line.trim() !== '') throw new ExpositionError(n, 'content after # EOF');
      return;
    }
    if (line.trim() === '') return;
    if (line.startsWith('#')) {
      const m = /^#\s*(HELP|TYPE)\s+([^\s]+)(?:\s(.*))?$/.exec(line);
      if (line.trim() === '# EOF') {
        eof = true;
        return;
      }
      if (!m) return; // a plain comment
      const [, kind, name, rest = ''] = m as unknown as [string, string, string, string | undefined];
      if (!new RegExp(`^${NAME.source}$`).test(name)) throw new ExpositionError(n, `'${name}' is not a metric name`);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new ExpositionError(n, `a second HELP for ${name}`);
        f.help = unescapeHelp(rest);
        return;
      }
      const type = rest.trim() as MetricType;
      if (!TYPES.includes(type)) throw new ExpositionError(n, `unknown TYPE '${rest.trim()}' for ${name} (expected ${TYPES.join(', ')})`);
      if (f.typed) throw new ExpositionError(n, `a second TYPE for ${name}`);
      if (f.samples.length > 0) throw new ExpositionError(n, `TYPE for ${name} comes after its samples`);
      f.type = type;
      f.typed = true;
      return;
    }
    const sample = parseSampleLine(line, n);
    const f = owner(sample.name);
    if (closed.has(f.name) && current !== f) throw new ExpositionError(n, `samples of ${f.name} are not in one group`);
    if (current && current !== f) closed.add(current.name);
    current = f;
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))}`;
    if (seenSeries.has(key)) throw new ExpositionError(n, `${sample.name} repeats a series it already gave`);
    seenSeries.add(key);
    if (f.type === 'histogram' && sample.name === `${f.name}_bucket` && sample.labels['le'] === undefined) {
      throw new ExpositionError(n, `a histogram bucket of ${f.name} without an le label`);
    }
    f.samples.push(sample);
  });

  const out = new Map<string, MetricFamily>();
  for (const f of families.values()) {
    if (f.samples.length === 0 && !f.typed && f.help === undefined) continue;
    out.set(f.name, { name: f.name, type: f.type, ...(f.help !== undefined ? { help: f.help } : {}), samples: f.samples });
  }
  return out;
}

function parseSampleLine(line: string, n: number): ExpositionSample {
  let pos = 0;
  const skipSpace = (): void => {
    while (pos < line.length && (line[pos] === ' ' || line[pos] === '\t')) pos++;
  };
  NAME.lastIndex = 0;
  const nm = NAME.exec(line);
  if (!nm) throw new ExpositionError(n, `'${line.slice(0, 40)}' does not start with a metric name`);
  const name = nm[0];
  pos = NAME.lastIndex;
  const labels: Record<string, string> = {};
  const afterName = pos;
  skipSpace();
  if (line[pos] !== '{') pos = afterName;
  else {
    pos++;
    for (;;) {
      skipSpace();
      if (line[pos] === '}') {
        pos++;
        break;
      }
      LABEL_NAME.lastIndex = pos;
      const ln = LABEL_NAME.exec(line);
      if (!ln) throw new ExpositionError(n, `a label name was expected at column ${pos + 1}`);
      pos = LABEL_NAME.lastIndex;
      skipSpace();
      if (line[pos] !== '=') throw new ExpositionError(n, `'=' was expected after label ${ln[0]}`);
      pos++;
      skipSpace();
      if (line[pos] !== '"') throw new ExpositionError(n, `the value of label ${ln[0]} must be quoted`);
      pos++;
      let value = '';
      for (;;) {
        const c = line[pos];
        if (c === undefined) throw new ExpositionError(n, `the value of label ${ln[0]} is not closed`);
        pos++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[pos++];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new ExpositionError(n, `bad escape '\\${e ?? ''}' in label ${ln[0]}`);
        } else value += c;
      }
      if (Object.hasOwn(labels, ln[0])) throw new ExpositionError(n, `label ${ln[0]} appears twice`);
      labels[ln[0]] = value;
      skipSpace();
      if (line[pos] === ',') {
        pos++;
        continue;
      }
      if (line[pos] === '}') {
        pos++;
        break;
      }
      throw new ExpositionError(n, `',' or '}' was expected at column ${pos + 1}`);
    }
  }
  const rest = line.slice(pos);
  if (rest !== '' && !/^[ \t]/.test(rest)) throw new ExpositionError(n, `a space was expected before the value of ${name}`);
  const fields = rest.trim().split(/[ \t]+/);
  if (fields.length < 1 || fields[0] === '' || fields.length > 2)
    throw new ExpositionError(n, `${name} needs a value and at most a timestamp`);
  const value = parseValue(fields[0], n);
  let timestampMs: number | undefined;
  if (fields.length === 2) {
    if (!/^-?\d+$/.test(fields[1])) throw new ExpositionError(n, `'${fields[1]}' is not a timestamp in milliseconds`);
    timestampMs = Number(fields[1]);
  }
  return { name, labels, value, ...(timestampMs !== undefined ? { timestampMs } : {}) };
}
