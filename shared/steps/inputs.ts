/**
 * Typed inputs, declared once per step and read through one parse.
 *
 * A step declares its inputs with these builders (kebab-case names, as in action.yml). The action
 * runner and the CLI both hand the raw strings to `parseInputs`, which returns a readonly object
 * with camelCase keys, or throws a ConfigurationError that names the input and the fix.
 */
import { ConfigurationError } from '../util/index.ts';

export interface InputDecl<T> {
  readonly description: string;
  /** The default written in action.yml (a string, as the runner passes it). */
  readonly default?: string;
  /** The value used when neither the input nor modelship.yml gives one (not in action.yml). */
  readonly fallback?: string;
  readonly required?: boolean;
  /** Masked in the log as soon as it is read. */
  readonly secret?: boolean;
  /** Allowed values, for enums (listed in errors and in the action.yml check). */
  readonly choices?: readonly string[];
  /** Turns the raw string ('' when not given) into the typed value, or throws ConfigurationError. */
  parse(raw: string, name: string): T;
}

type Opts = {
  description: string;
  /** The action.yml default. Leave unset for inputs modelship.yml can supply: use `fallback`. */
  default?: string;
  /** Applied after modelship.yml, when neither the step nor the file gives a value. */
  fallback?: string;
  required?: boolean;
};

function decl<T>(opts: Opts, parse: (raw: string, name: string) => T, choices?: readonly string[]): InputDecl<T> {
  return { ...opts, ...(choices ? { choices } : {}), parse };
}

function requireValue(raw: string, name: string, required: boolean | undefined): void {
  if (required && raw.trim() === '') {
    throw new ConfigurationError(`input '${name}' is required.`, `Set '${name}' in the step's 'with:' (or --${name} on the command line).`);
  }
}

export const input = {
  /** Free text; '' when not given and not required. */
  string(opts: Opts): InputDecl<string> {
    return decl(opts, (raw, name) => {
      requireValue(raw, name, opts.required);
      return raw.trim();
    });
  },
  /** Optional text: undefined when empty. */
  optional(opts: Opts): InputDecl<string | undefined> {
    return decl(opts, (raw) => (raw.trim() === '' ? undefined : raw.trim()));
  },
  /** A secret: kept verbatim (no trimming of inner content), undefined when empty. */
  secret(opts: Opts): InputDecl<string | undefined> {
    return { ...decl(opts, (raw) => (raw === '' ? undefined : raw.trim())), secret: true };
  },
  /** Only `true` or `false` (YAML 1.2 core schema, as @actions/core accepts). */
  bool(opts: Opts): InputDecl<boolean> {
    return decl(opts, (raw, name) => {
      const v = raw.trim();
      if (['true', 'True', 'TRUE'].includes(v)) return true;
      if (['false', 'False', 'FALSE'].includes(v)) return false;
      throw new ConfigurationError(`input '${name}' must be true or false, got '${v}'.`, `Write ${name}: true or ${name}: false.`);
    });
  },
  /** A whole number within bounds; undefined when empty and not required. */
  int(opts: Opts & { min?: number; max?: number }): InputDecl<number | undefined> {
    return decl(opts, (raw, name) => {
      requireValue(raw, name, opts.required);
      const v = raw.trim();
      if (v === '') return undefined;
      if (!/^-?\d+$/.test(v))
        throw new ConfigurationError(`input '${name}' must be a whole number, got '${v}'.`, boundsHint(name, opts.min, opts.max));
      const n = Number(v);
      if ((opts.min !== undefined && n < opts.min) || (opts.max !== undefined && n > opts.max)) {
        throw new ConfigurationError(`input '${name}' is ${n}, out of range.`, boundsHint(name, opts.min, opts.max));
      }
      return n;
    });
  },
  /** A finite number within bounds; undefined when empty and not required. */
  number(opts: Opts & { min?: number; max?: number; exclusiveMin?: boolean }): InputDecl<number | undefined> {
    return decl(opts, (raw, name) => {
      requireValue(raw, name, opts.required);
      const v = raw.trim();
      if (v === '') return undefined;
      const n = Number(v);
      if (!Number.isFinite(n) || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v)) {
        throw new ConfigurationError(`input '${name}' must be a number, got '${v}'.`, boundsHint(name, opts.min, opts.max));
      }
      const belowMin = opts.min !== undefined && (opts.exclusiveMin ? n <= opts.min : n < opts.min);
      if (belowMin || (opts.max !== undefined && n > opts.max)) {
        throw new ConfigurationError(`input '${name}' is ${n}, out of range.`, boundsHint(name, opts.min, opts.max, opts.exclusiveMin));
      }
      return n;
    });
  },
  /** One of a fixed set; an unknown value lists the allowed ones. */
  choice<const C extends readonly string[]>(choices: C, opts: Opts): InputDecl<C[number]> {
    return decl(
      opts,
      (raw, name) => {
        const v = raw.trim() === '' ? (opts.default ?? opts.fallback ?? '') : raw.trim();
        if (!choices.includes(v)) {
          throw new ConfigurationError(
            `input '${name}' must be one of ${choices.join(', ')}; got '${v}'.`,
            `Pick one of: ${choices.join(', ')}.`,
          );
        }
        return v;
      },
      choices,
    );
  },
  /** Several values, one a line (comments with # and blank lines dropped) or comma-separated on one line. */
  list(opts: Opts & { commas?: boolean }): InputDecl<readonly string[]> {
    return decl(opts, (raw, name) => {
      requireValue(raw, name, opts.required);
      return splitLines(raw, opts.commas ?? false);
    });
  },
};

function boundsHint(name: string, min?: number, max?: number, exclusiveMin?: boolean): string {
  if (min !== undefined && max !== undefined) return `Set '${name}' to a value from ${min} to ${max}.`;
  if (min !== undefined) return `Set '${name}' to a value ${exclusiveMin ? 'above' : 'of at least'} ${min}.`;
  if (max !== undefined) return `Set '${name}' to a value of at most ${max}.`;
  return `Set '${name}' to a number.`;
}

export function splitLines(raw: string, commas: boolean): string[] {
  return raw
    .split(/\r?\n/)
    .flatMap((line) => (commas ? line.split(',') : [line]))
    .map((l) => l.replace(/(^|\s)#.*$/, '').trim())
    .filter((l) => l !== '');
}

export type InputDecls = Record<string, InputDecl<unknown>>;

type CamelCase<S extends string> = S extends `${infer H}-${infer T}` ? `${H}${Capitalize<CamelCase<T>>}` : S;

export type ParsedInputs<D extends InputDecls> = {
  readonly [K in keyof D as K extends string ? CamelCase<K> : never]: D[K] extends InputDecl<infer T> ? T : never;
};

export function camelCase(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_m, c: string) => c.toUpperCase());
}

/**
 * Parses raw inputs (kebab-case keys; a missing key counts as '') against the declarations.
 * Every problem is found before anything runs; the first is thrown.
 */
export function parseInputs<D extends InputDecls>(decls: D, raw: Readonly<Record<string, string | undefined>>): ParsedInputs<D> {
  const out: Record<string, unknown> = {};
  for (const [name, d] of Object.entries(decls)) {
    const given = raw[name];
    const value = given === undefined || given === '' ? (d.default ?? d.fallback ?? '') : given;
    out[camelCase(name)] = d.parse(value, name);
  }
  return Object.freeze(out) as ParsedInputs<D>;
}
