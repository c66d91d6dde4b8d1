/**
 * Typed inputs, declared once per step and read through one parse.
 *
 * A step declares its inputs with these builders (kebab-case names, as in action.yml). The action
 * runner, the CLI and modelship.yml all hand raw strings to the same `parse`, so a value means the
 * same in `with:`, on the command line and in the file. `parseInputs` returns a readonly object
 * with camelCase keys, or throws a ConfigurationError that names the input and the fix.
 *
 * An input with a default, a fallback or `required` is typed as present; only inputs that may be
 * left out are typed `| undefined`.
 */
import { parseRule, type RuleKind } from '../rules/index.ts';
import { ConfigurationError, formatBytes, lineOf, withLineNumbers, type Lines } from '../util/index.ts';
import { assertModelName } from './names.ts';

export interface InputDecl<T> {
  readonly description: string;
  /** The default written in action.yml (a string, as the runner passes it). */
  readonly default?: string;
  /** The value used when neither the input nor modelship.yml gives one (not in action.yml). */
  readonly fallback?: string;
  readonly required?: boolean;
  /** Masked in the log as soon as it is read; never read from modelship.yml. */
  readonly secret?: boolean;
  /** For the command line: the environment variable that supplies the value when the option is not given. */
  readonly env?: string;
  /** Allowed values, for enums (listed in errors and in the action.yml check). */
  readonly choices?: readonly string[];
  /** How the CLI and the docs name the kind of value (`duration`, `url`, `number` …). */
  readonly kind: InputKind;
  /** A value to show in a hint when one of the wrong shape is given (`accuracy >= 0.9`). */
  readonly example?: string;
  /**
   * Turns the raw string ('' when not given) into the typed value, or throws ConfigurationError.
   * `label` names where the value came from in messages (default `input '<name>'`).
   */
  parse(raw: string, name: string, label?: string): T;
}

export type InputKind = 'string' | 'secret' | 'bool' | 'int' | 'number' | 'choice' | 'list' | 'duration' | 'url' | 'name' | 'size';

type Opts = {
  readonly description: string;
  /** The action.yml default. Leave unset for inputs modelship.yml can supply: use `fallback`. */
  readonly default?: string;
  /** Applied after modelship.yml, when neither the step nor the file gives a value. */
  readonly fallback?: string;
  readonly required?: boolean;
  /** A value to show in a hint when one of the wrong shape is given. */
  readonly example?: string;
};

/** An input that always has a value after parsing: required, or with a default or fallback. */
type Present = { readonly required: true } | { readonly fallback: string } | { readonly default: string };
type Maybe<O, T> = O extends Present ? T : T | undefined;

const labelOf = (name: string, label?: string): string => label ?? `input '${name}'`;

function decl<T>(opts: Opts, kind: InputKind, parse: InputDecl<T>['parse'], choices?: readonly string[]): InputDecl<T> {
  return { ...opts, kind, ...(choices ? { choices } : {}), parse };
}

function requireValue(raw: string, name: string, required: boolean | undefined, label?: string): void {
  if (required && raw.trim() === '') {
    throw new ConfigurationError(
      `${labelOf(name, label)} is required.`,
      `Set '${name}' in the step's 'with:' (or --${name} on the command line).`,
    );
  }
}

/** Duration units, as Prometheus writes them. */
const DURATION_UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(?:\d+(?:ms|s|m|h|d|w))+$/;

/** `90s`, `5m`, `1h30m`, `500ms` → milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  const t = text.trim();
  if (!DURATION.test(t)) return undefined;
  let ms = 0;
  for (const m of t.matchAll(/(\d+)(ms|s|m|h|d|w)/g)) ms += Number(m[1]) * DURATION_UNITS[m[2]];
  return ms;
}

/** Milliseconds as the shortest duration text that parses back to them: 90000 → `90s`, 300000 → `5m`. */
export function formatDuration(ms: number): string {
  for (const [unit, size] of Object.entries(DURATION_UNITS).reverse()) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  return `${Math.round(ms)}ms`;
}

/** Size units: decimal (kB, MB, GB, TB) and binary (KiB, MiB, GiB, TiB), B or none for bytes. */
const SIZE_UNITS: Readonly<Record<string, number>> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};
const SIZE = /^(\d+(?:\.\d+)?)\s*([a-zA-Z]*)$/;

/** `10GiB`, `512MiB`, `4GB`, `1000` → bytes; undefined when it is not a size. */
export function parseSize(text: string): number | undefined {
  const m = SIZE.exec(text.trim());
  const unit = SIZE_UNITS[(m?.[2] ?? '').toLowerCase()];
  if (!m || unit === undefined) return undefined;
  const bytes = Math.round(Number(m[1]) * unit);
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}

/** ' from 1s to 1h', ' of at least 1s', ' of at most 1h' or '': the bounds as written in the declaration. */
function rangeText(opts: { readonly min?: string; readonly max?: string }): string {
  if (opts.min !== undefined && opts.max !== undefined) return ` from ${opts.min} to ${opts.max}`;
  if (opts.min !== undefined) return ` of at least ${opts.min}`;
  if (opts.max !== undefined) return ` of at most ${opts.max}`;
  return '';
}

function boundsHint(name: string, min?: number, max?: number, exclusiveMin?: boolean): string {
  if (min !== undefined && max !== undefined)
    return exclusiveMin ? `Set '${name}' to a value above ${min}, at most ${max}.` : `Set '${name}' to a value from ${min} to ${max}.`;
  if (min !== undefined) return `Set '${name}' to a value ${exclusiveMin ? 'above' : 'of at least'} ${min}.`;
  if (max !== undefined) return `Set '${name}' to a value of at most ${max}.`;
  return `Set '${name}' to a number.`;
}

export const input = {
  /** Free text; '' when not given and not required. */
  string(opts: Opts): InputDecl<string> {
    return decl(opts, 'string', (raw, name, label) => {
      requireValue(raw, name, opts.required, label);
      return raw.trim();
    });
  },
  /** Optional text: undefined when empty. */
  optional(opts: Opts): InputDecl<string | undefined> {
    return decl(opts, 'string', (raw) => (raw.trim() === '' ? undefined : raw.trim()));
  },
  /** A secret: masked as soon as it is read, never taken from modelship.yml; undefined when empty. */
  secret(opts: Opts & { readonly env?: string }): InputDecl<string | undefined> {
    return { ...decl(opts, 'secret', (raw) => (raw === '' ? undefined : raw.trim())), secret: true };
  },
  /** Only `true` or `false` (YAML 1.2 core schema, as @actions/core accepts). */
  bool(opts: Opts): InputDecl<boolean> {
    return decl(opts, 'bool', (raw, name, label) => {
      const v = raw.trim();
      if (['true', 'True', 'TRUE'].includes(v)) return true;
      if (['false', 'False', 'FALSE'].includes(v)) return false;
      throw new ConfigurationError(`${labelOf(name, label)} must be true or false, got '${v}'.`, `Write ${name}: true or ${name}: false.`);
    });
  },
  /** A whole number within bounds. */
  int<const O extends Opts & { readonly min?: number; readonly max?: number }>(opts: O): InputDecl<Maybe<O, number>> {
    return decl(opts, 'int', (raw, name, label) => {
      requireValue(raw, name, opts.required, label);
      const v = raw.trim();
      if (v === '') return undefined as Maybe<O, number>;
      if (!/^-?\d+$/.test(v))
        throw new ConfigurationError(`${labelOf(name, label)} must be a whole number, got '${v}'.`, boundsHint(name, opts.min, opts.max));
      const n = Number(v);
      if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
        throw new ConfigurationError(`${labelOf(name, label)} is ${n}, out of range.`, boundsHint(name, opts.min, opts.max));
      }
      return n;
    });
  },
  /** A finite number within bounds (`exclusiveMin`: strictly above min). */
  number<const O extends Opts & { readonly min?: number; readonly max?: number; readonly exclusiveMin?: boolean }>(
    opts: O,
  ): InputDecl<Maybe<O, number>> {
    return decl(opts, 'number', (raw, name, label) => {
      requireValue(raw, name, opts.required, label);
      const v = raw.trim();
      if (v === '') return undefined as Maybe<O, number>;
      const n = Number(v);
      if (!Number.isFinite(n) || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) {
        throw new ConfigurationError(
          `${labelOf(name, label)} must be a number, got '${v}'.`,
          boundsHint(name, opts.min, opts.max, opts.exclusiveMin),
        );
      }
      const belowMin = opts.min !== undefined && (opts.exclusiveMin ? n <= opts.min : n < opts.min);
      if (belowMin || (opts.max !== undefined && n > opts.max)) {
        throw new ConfigurationError(
          `${labelOf(name, label)} is ${n}, out of range.`,
          boundsHint(name, opts.min, opts.max, opts.exclusiveMin),
        );
      }
      return n;
    });
  },
  /** One of a fixed set; an unknown value lists the allowed ones. */
  choice<const C extends readonly string[]>(choices: C, opts: Opts): InputDecl<C[number]> {
    return decl(
      opts,
      'choice',
      (raw, name, label) => {
        const v = raw.trim() === '' ? (opts.default ?? opts.fallback ?? '') : raw.trim();
        if (!choices.includes(v)) {
          throw new ConfigurationError(
            `${labelOf(name, label)} must be one of ${choices.join(', ')}; got '${v}'.`,
            `Pick one of: ${choices.join(', ')}.`,
          );
        }
        return v;
      },
      choices,
    );
  },
  /**
   * Several values, one a line (comments with # and blank lines dropped) or comma-separated on one
   * line. Each value remembers the line it came from (see `lineOf`), for errors about it later.
   */
  list(opts: Opts & { readonly commas?: boolean }): InputDecl<Lines> {
    return decl(opts, 'list', (raw, name, label) => {
      requireValue(raw, name, opts.required, label);
      return splitLines(raw, opts.commas ?? false);
    });
  },
  /**
   * Rule lines of the one rule language (shared/rules), one a line: a list whose every line is
   * checked for the form of a rule of `kinds` as it is read (metric names are checked where the
   * metrics are known), so modelship.yml and `with:` refuse a value that is not a rule at once.
   */
  rules(opts: Opts & { readonly kinds: readonly RuleKind[] }): InputDecl<Lines> {
    const example = opts.example ?? (opts.kinds.includes('threshold') ? "['accuracy >= 0.9']" : "['accuracy: 1pp']");
    return decl({ ...opts, example }, 'list', (raw, name, label) => {
      requireValue(raw, name, opts.required, label);
      const lines = splitLines(raw, false);
      lines.forEach((line, i) =>
        parseRule(line, { syntaxOnly: true, kinds: opts.kinds }, `${labelOf(name, label)} line ${lineOf(lines, i)}`),
      );
      return lines;
    });
  },
  /** A model name (a registry repository name component), checked by the one name grammar. */
  name<const O extends Opts>(opts: O): InputDecl<Maybe<O, string>> {
    return decl(opts, 'name', (raw, name, label) => {
      requireValue(raw, name, opts.required, label);
      const v = raw.trim();
      if (v === '') return undefined as Maybe<O, string>;
      return assertModelName(v, labelOf(name, label));
    });
  },
  /** A size in bytes, written with a unit (512MiB, 10GiB, 4GB), within bounds. */
  size<const O extends Opts & { readonly min?: string; readonly max?: string }>(opts: O): InputDecl<Maybe<O, number>> {
    const min = opts.min !== undefined ? parseSize(opts.min) : undefined;
    const max = opts.max !== undefined ? parseSize(opts.max) : undefined;
    return decl(opts, 'size', (raw, name, label) => {
      requireValue(raw, name, opts.required, label);
      const v = raw.trim();
      if (v === '') return undefined as Maybe<O, number>;
      const bytes = parseSize(v);
      const range = rangeText(opts);
      if (bytes === undefined) {
        throw new ConfigurationError(
          `${labelOf(name, label)} must be a size such as 512MiB, 10GiB or 4GB; got '${v}'.`,
          `Write a number and a unit (B, KiB, MiB, GiB, TiB or kB, MB, GB, TB), e.g. ${name}: ${opts.fallback ?? '10GiB'}${range ? `, a size${range}` : ''}.`,
        );
      }
      if ((min !== undefined && bytes < min) || (max !== undefined && bytes > max)) {
        throw new ConfigurationError(
          `${labelOf(name, label)} is ${v} (${formatBytes(bytes)}), out of range.`,
          `Set '${name}' to a size${range}.`,
        );
      }
      return bytes;
    });
  },
  /** A duration such as 90s, 5m, 1h or 1h30m, in milliseconds, within bounds. */
  duration<const O extends Opts & { readonly min?: string; readonly max?: string }>(opts: O): InputDecl<Maybe<O, number>> {
    const min = opts.min !== undefined ? parseDuration(opts.min) : undefined;
    const max = opts.max !== undefined ? parseDuration(opts.max) : undefined;
    return decl(opts, 'duration', (raw, name, label) => {
      requireValue(raw, name, opts.required, label);
      const v = raw.trim();
      if (v === '') return undefined as Maybe<O, number>;
      const ms = parseDuration(v);
      const range = rangeText(opts);
      if (ms === undefined) {
        const unitless = /^\d+(\.\d+)?$/.test(v);
        throw new ConfigurationError(
          `${labelOf(name, label)} must be a duration such as 90s, 5m or 1h; got '${v}'${unitless ? ' (a number without a unit)' : ''}.`,
          `Write a whole number and a unit (ms, s, m, h, d, w), e.g. ${name}: ${unitless ? `${Math.round(Number(v))}s` : '5m'}${range ? `, a duration${range}` : ''}.`,
        );
      }
      if ((min !== undefined && ms < min) || (max !== undefined && ms > max)) {
        throw new ConfigurationError(`${labelOf(name, label)} is ${v}, out of range.`, `Set '${name}' to a duration${range}.`);
      }
      return ms;
    });
  },
  /** An absolute http(s) URL, without a trailing slash. */
  url<const O extends Opts>(opts: O): InputDecl<Maybe<O, string>> {
    return decl(opts, 'url', (raw, name, label) => {
      requireValue(raw, name, opts.required, label);
      const v = raw.trim();
      if (v === '') return undefined as Maybe<O, string>;
      let u: URL | undefined;
      try {
        u = new URL(v);
      } catch {
        u = undefined;
      }
      if (!u || (u.protocol !== 'http:' && u.protocol !== 'https:') || u.hostname === '') {
        throw new ConfigurationError(
          `${labelOf(name, label)} must be an http:// or https:// URL; got '${v}'.`,
          `Write the full address, e.g. ${name}: http://prometheus:9090.`,
        );
      }
      return v.replace(/\/+$/, '');
    });
  },
};

export function splitLines(raw: string, commas: boolean): Lines {
  const values: string[] = [];
  const numbers: number[] = [];
  raw.split(/\r?\n/).forEach((line, n) => {
    for (const part of commas ? line.split(',') : [line]) {
      const v = part.replace(/(^|\s)#.*$/, '').trim();
      if (v === '') continue;
      values.push(v);
      numbers.push(n + 1);
    }
  });
  return withLineNumbers(values, numbers);
}

export type InputDecls = Record<string, InputDecl<unknown>>;

type CamelCase<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

export type ParsedInputs<D extends InputDecls> = {
  readonly [K in keyof D as K extends string ? CamelCase<K> : never]: D[K] extends InputDecl<infer T> ? T : never;
};

export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/** True for an action.yml default that is a workflow expression (`${{ github.token }}`): the runner's, never a value. */
export function isExpression(value: string | undefined): boolean {
  return value !== undefined && value.includes('${{');
}

/** The value an input takes when nothing gives one: its default (unless an expression), else its fallback. */
export function defaultOf(d: InputDecl<unknown>): string | undefined {
  return d.default !== undefined && !isExpression(d.default) ? d.default : d.fallback;
}

/**
 * Parses raw inputs (kebab-case keys; a missing key counts as '') against the declarations.
 * Every problem is found before anything runs; the first is thrown.
 */
export function parseInputs<D extends InputDecls>(decls: D, raw: Readonly<Record<string, string | undefined>>): ParsedInputs<D> {
  const out: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(decls)) {
    const given = raw[name];
    // An expression reaches a step only when a door passed it through unexpanded (never a value).
    const value = given === undefined || given === '' || isExpression(given) ? (defaultOf(d) ?? '') : given;
    out[camelCase(name)] = d.parse(value, name);
  }
  return Object.freeze(out) as ParsedInputs<D>;
}
