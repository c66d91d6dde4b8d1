/**
 * What `modelship serve` reads from modelship.yml: the `serve:` section (validated by
 * {@link serveSection}), the model `name` (for bare aliases) and `registry.url` / `registry.username`.
 *
 * Until `serveSection` is part of the project schema (shared/config/schema.ts), this reads the YAML
 * itself and validates only what the server uses; the other sections are the steps' business.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { ConfigurationError } from '../util/errors.ts';
import { serveSection, type ServeSection } from './options.ts';

export const CONFIG_FILE = 'modelship.yml';

export interface ServeConfig {
  readonly file?: string;
  readonly name?: string;
  readonly registry?: { readonly url?: string; readonly username?: string };
  readonly serve?: ServeSection;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Reads the serve-related keys of modelship.yml (`file`, else modelship.yml in cwd when it exists). */
export async function readServeConfig(file: string | undefined, cwd: string): Promise<ServeConfig> {
  const explicit = file !== undefined && file !== '';
  const target = path.resolve(cwd, explicit ? file : CONFIG_FILE);
  const shown = path.relative(cwd, target) || target;
  let text: string;
  try {
    text = await readFile(target, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new ConfigurationError(
      `config file '${file ?? CONFIG_FILE}' cannot be read (${(err as NodeJS.ErrnoException).code ?? 'error'}).`,
      'Check the path given as --config, relative to the working directory.',
    );
  }
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigurationError(`${shown} is not valid YAML: ${doc.errors[0].message.split('\n')[0]}`, `Fix the YAML syntax in ${shown}.`);
  }
  const data: unknown = doc.toJS() ?? {};
  if (!isRecord(data))
    throw new ConfigurationError(`${shown}: the top level must be a mapping of sections.`, 'See the modelship.yml reference in README.md.');
  const out: { file: string; name?: string; registry?: { url?: string; username?: string }; serve?: ServeSection } = { file: target };
  if (typeof data['name'] === 'string') out.name = data['name'];
  const reg = data['registry'];
  if (isRecord(reg)) {
    out.registry = {
      ...(typeof reg['url'] === 'string' ? { url: reg['url'] } : {}),
      ...(typeof reg['username'] === 'string' ? { username: reg['username'] } : {}),
    };
  }
  if (data['serve'] !== undefined) {
    const parsed = serveSection.safeParse(data['serve']);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const key = ['serve', ...issue.path.map(String)].join('.');
      const what =
        issue.code === 'unrecognized_keys'
          ? `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `'${k}'`).join(', ')} in '${key}'`
          : `key '${key}' ${issue.message.replace(/^Invalid input: /, '')}`;
      throw new ConfigurationError(`${shown}: ${what}.`, 'See "The model server" in README.md for the serve section.');
    }
    out.serve = parsed.data;
  }
  return out;
}
