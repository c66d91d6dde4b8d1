import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigurationError, errorMessage } from '../util/index.ts';
import type { InputDecls } from './inputs.ts';
import { EMPTY_CONFIG, rawValue, type ProjectConfig } from './schema.ts';

export const DEFAULT_CONFIG_FILE = 'modelship.yml';

/**
 * Reads and validates a modelship.yml against `schema` (the steps' sections, see schema.ts). With
 * no explicit path, `modelship.yml` in `cwd` is used when it exists, and an empty config otherwise.
 */
export async function loadConfig(
  file: string | undefined,
  cwd: string,
  schema: z.ZodType<ProjectConfig>,
): Promise<{ config: ProjectConfig; file?: string }> {
  const explicit = file !== undefined && file !== '';
  const target = path.resolve(cwd, explicit ? file : DEFAULT_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return { config: EMPTY_CONFIG };
    throw new ConfigurationError(
      `config file '${file ?? DEFAULT_CONFIG_FILE}' cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
      'Check the path given as config, relative to the working directory.',
    );
  }
  return { config: parseConfig(text, path.relative(cwd, target) || target, schema), file: target };
}

/** YAML aliases a modelship.yml may expand; a real project file has none or a few. */
export const MAX_YAML_ALIASES = 100;

/** Parses modelship.yml text; `name` is the file name used in errors. */
export function parseConfig(text: string, name: string, schema: z.ZodType<ProjectConfig>): ProjectConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ConfigurationError(`${name} is not valid YAML: ${e.message.split('\n')[0]}`, `Fix the YAML syntax in ${name}.`);
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES }) ?? {};
  } catch (err) {
    // The yaml library refuses documents whose aliases expand without bound (a "billion laughs").
    throw new ConfigurationError(
      `${name} cannot be read: its YAML aliases expand too far (${errorMessage(err).split('\n')[0]}).`,
      `Write the values out in ${name} instead of nesting aliases (*name) of aliases.`,
    );
  }
  const result = schema.safeParse(data);
  if (!result.success) {
    const issue = result.error.issues[0];
    const hint = (issue as { params?: { hint?: string } }).params?.hint;
    throw new ConfigurationError(describeIssue(issue, name), hint ?? 'See the modelship.yml reference in README.md.');
  }
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue, file: string): string {
  const key = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = key ? `'${key}'` : 'the top level';
    return `${file}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')} in ${where}.`;
  }
  if (issue.code === 'custom') return `${file}: ${issue.message}.`;
  if (issue.code === 'invalid_type' && key.split('.').length === 1 && key !== 'name' && key !== 'version')
    return `${file}: key '${key}' must be a mapping of settings (key: value), not ${issue.input === null ? 'empty' : typeof issue.input}.`;
  return `${file}: key '${key || '(root)'}' ${issue.message.replace(/^Invalid input: /, '')}.`;
}

/**
 * The raw input strings a config section supplies to a step (lists become lines), keyed by input
 * name (after `rename`). Nested settings (objects) are not inputs and are left out.
 */
export function configInputs(
  config: ProjectConfig,
  section: string | undefined,
  rename: Readonly<Record<string, string>> = {},
  inputs: InputDecls = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  if (config.name) out['name'] = config.name;
  if (!section) return out;
  for (const [key, value] of Object.entries(config.sections[section] ?? {})) {
    const name = rename[key] ?? key;
    const raw = rawValue(value, inputs[name]?.kind);
    if (raw !== undefined) out[name] = raw;
  }
  return out;
}
