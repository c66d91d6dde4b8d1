/**
 * modelship.yml: the project file both the CLI and the actions read.
 *
 * Each section holds values for one step's inputs, under the same kebab-case names as the action
 * inputs, and its schema is derived from that step's input declarations: a value is checked by the
 * very parse that checks it in `with:` and on the command line, so it means the same everywhere,
 * by construction. Secrets are never read from the file. A section may also hold nested settings
 * that are not inputs (train.kubernetes), with a zod schema of their own. Unknown keys and wrong
 * values are errors that name the key and the file.
 */
import { z } from 'zod';
import { ConfigurationError } from '../util/index.ts';
import type { InputDecls } from './inputs.ts';
import { NAME_HINT, nameProblem, printable } from './names.ts';

/** One section of modelship.yml, as a step declares it. */
export interface SectionDecl {
  readonly inputs: InputDecls;
  /** File keys whose input has another name (registry.url → the `registry` input). */
  readonly rename?: Readonly<Record<string, string>>;
  /** Nested settings that are not inputs, with their own schema (train.kubernetes). */
  readonly extra?: Readonly<Record<string, z.ZodType>>;
}

/** What a section value may be in YAML: a scalar, or a list for list inputs. */
export type SectionValue = string | number | boolean | readonly string[];

export interface ProjectConfig {
  readonly version?: 1;
  /** The model's name: the registry repository, the PR comment's key. */
  readonly name?: string;
  /** The sections by name (data, train, gate, registry, deploy, monitor …). */
  readonly sections: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
}

export const EMPTY_CONFIG: ProjectConfig = { sections: {} };

/** The input names a file key may not set: the config file itself, and secrets. */
function settable(inputs: InputDecls): string[] {
  return Object.entries(inputs)
    .filter(([name, d]) => name !== 'config' && !d.secret)
    .map(([name]) => name);
}

const scalar = (v: unknown): v is string | number | boolean =>
  typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v)) || typeof v === 'boolean';

/**
 * The YAML value as the raw string an input parse takes: scalars as text, lists as lines, and for
 * list inputs a mapping as `key: value` lines (`max-regression: { accuracy: 1pp }`).
 */
export function rawValue(value: unknown, kind?: string): string | undefined {
  if (scalar(value)) return String(value);
  if (Array.isArray(value) && value.every(scalar)) return value.map(String).join('\n');
  if (kind === 'list' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const entries = Object.entries(value as Record<string, unknown>);
    if (entries.every(([, v]) => scalar(v))) return entries.map(([k, v]) => `${k}: ${String(v).replace(/\s*\n\s*/g, ' ')}`).join('\n');
  }
  return undefined;
}

/** The schema of one section, from its step's declarations. */
export function sectionSchema(section: string, decl: SectionDecl): z.ZodType<Record<string, unknown>> {
  const shape: Record<string, z.ZodType> = {};
  const byKey = new Map<string, string>();
  for (const name of settable(decl.inputs)) byKey.set(name, name);
  for (const [key, name] of Object.entries(decl.rename ?? {})) {
    byKey.delete(name);
    byKey.set(key, name);
  }
  for (const [key, name] of byKey) {
    const d = decl.inputs[name];
    shape[key] = z
      .unknown()
      .superRefine((value, ctx) => {
        const raw = rawValue(value, d.kind);
        const where = `key '${section}.${key}'`;
        if (raw === undefined) {
          ctx.addIssue({
            code: 'custom',
            message: `${where} must be ${d.kind === 'list' ? 'a string, a list of strings or a mapping of key: value' : 'a string, a number or true/false'}`,
            params: { hint: `Write e.g. ${key}: ${d.example ?? d.choices?.[0] ?? d.fallback ?? defaultExample(d.kind)}.` },
          });
          return;
        }
        try {
          d.parse(raw, name, where);
        } catch (err) {
          if (!(err instanceof ConfigurationError)) throw err;
          ctx.addIssue({ code: 'custom', message: err.message.replace(/\.$/, ''), params: { hint: err.hint } });
        }
      })
      .optional();
  }
  for (const [key, schema] of Object.entries(decl.extra ?? {})) shape[key] = schema.optional();
  return z.strictObject(shape);
}

function defaultExample(kind: string): string {
  switch (kind) {
    case 'int':
    case 'number':
      return '5';
    case 'bool':
      return 'true';
    case 'duration':
      return '5m';
    case 'url':
      return 'http://host:9090';
    case 'size':
      return '10GiB';
    case 'name':
      return 'fashion';
    case 'list':
      return '[first, second]';
    default:
      return 'value';
  }
}

/**
 * The whole file's schema, from the sections the steps declare, plus sections of commands that are
 * not steps (`serve:`, read by `modelship serve`), each with its own schema.
 */
export function projectSchema(
  sections: Readonly<Record<string, SectionDecl>>,
  other: Readonly<Record<string, z.ZodType>> = {},
): z.ZodType<ProjectConfig> {
  const shape: Record<string, z.ZodType> = {
    version: z.literal(1).optional(),
    // The one name grammar (config/names.ts), as every name input checks it.
    name: z
      .unknown()
      .superRefine((value, ctx) => {
        const problem = typeof value === 'string' ? nameProblem(value) : 'it must be a string';
        if (problem) {
          ctx.addIssue({
            code: 'custom',
            message: `key 'name': '${printable(String(value))}' is not a valid model name: ${problem}`,
            params: { hint: NAME_HINT },
          });
        }
      })
      .optional(),
  };
  for (const [name, decl] of Object.entries(sections)) shape[name] = sectionSchema(name, decl).optional();
  for (const [name, schema] of Object.entries(other)) shape[name] = schema.optional();
  return z.strictObject(shape).transform((data) => {
    const { version, name, ...rest } = data as { version?: 1; name?: string } & Record<string, Record<string, unknown> | undefined>;
    const out: Record<string, Readonly<Record<string, unknown>>> = {};
    for (const [k, v] of Object.entries(rest)) if (v !== undefined) out[k] = v;
    return { ...(version !== undefined ? { version } : {}), ...(name !== undefined ? { name } : {}), sections: out };
  });
}
