import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { ConfigurationError } from '../util/index.ts';
import { projectConfigSchema, type ConfigSection, type ProjectConfig } from './schema.ts';

export const DEFAULT_CONFIG_FILE = 'modelship.yml';

/**
 * Reads and validates a modelship.yml. With no explicit path, `modelship.yml` in `cwd` is used
 * when it exists, and an empty config otherwise.
 */
export async function loadConfig(file: string | undefined, cwd: string = process.cwd()): Promise<{ config: ProjectConfig; file?: string }> {
  const explicit = file !== undefined && file !== '';
  const target = path.resolve(cwd, explicit ? file : DEFAULT_CONFIG_FILE);
  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return { config: {} };
    throw new ConfigurationError(
      `config file '${file ?? DEFAULT_CONFIG_FILE}' cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
      'Check the path given as config, relative to the working directory.',
    );
  }
  return { config: parseConfig(text, path.relative(cwd, target) || target), file: target };
}

/** Parses modelship.yml text; `name` is the file name used in errors. */
export function parseConfig(text: string, name: string): ProjectConfig {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ConfigurationError(`${name} is not valid YAML: ${e.message.split('\n')[0]}`, `Fix the YAML syntax in ${name}.`);
  }
  const data: unknown = doc.toJS() ?? {};
  const result = projectConfigSchema.safeParse(data);
  if (!result.success)
    throw new ConfigurationError(describeIssue(result.error.issues[0], name), `See the modelship.yml reference in README.md.`);
  return result.data;
}

function describeIssue(issue: z.core.$ZodIssue, file: string): string {
  const key = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = key ? `'${key}'` : 'the top level';
    return `${file}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')} in ${where}.`;
  }
  return `${file}: key '${key || '(root)'}' ${issue.message.replace(/^Invalid input: /, '')}.`;
}

/**
 * The raw input strings a config section supplies to a step (arrays become lines), for the keys
 * the step declares. Explicit inputs override these.
 */
export function configInputs(
  config: ProjectConfig,
  section: ConfigSection | undefined,
  rename: Readonly<Record<string, string>> = {},
): Record<string, string> {
  const out: Record<string, string> = {};
  if (config.name) out['name'] = config.name;
  if (!section) return out;
  const values = (config[section] ?? {}) as Record<string, unknown>;
  for (const [key, value] of Object.entries(values)) {
    const name = rename[key] ?? key;
    if (Array.isArray(value)) out[name] = value.map(String).join('\n');
    else if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') out[name] = String(value);
    // Nested objects (e.g. train.kubernetes) are read by their step directly, not as inputs.
  }
  return out;
}
