/**
 * Where a served version comes from: a model folder, or a registry reference pulled through the
 * registry interface (every blob's digest verified) into the server's cache folder.
 *
 *   ./models/fashion        a folder (version 1 unless given; its content digest)
 *   fashion@production      the version the alias points at, in the configured registry
 *   fashion:3               version 3
 *   oci://ghcr.io/acme/models/fashion@production
 *
 * A value that names an existing folder is a folder; a value that looks like a path (./, ../, /)
 * but names nothing is an error; anything else is a registry reference.
 */
import { randomBytes } from 'node:crypto';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { readMetadata, type ModelMetadata } from '../model/index.ts';
import { assertName, DEFAULT_REGISTRY, isOciLocation, openRegistry, parseReference } from '../registry/index.ts';
import { ConfigurationError, type Logger, sha256, sha256File } from '../util/index.ts';

export interface SourceSpec {
  /** A model folder or a registry reference. */
  readonly source: string;
  /** The name to serve it under (default: the folder's metadata name, or the reference's name). */
  readonly name?: string;
  /** The version number (folders only; default 1). */
  readonly version?: number;
}

export interface SourceContext {
  readonly cwd: string;
  readonly log: Logger;
  /** Registry location for references without an inline oci:// registry (default .modelship/registry). */
  readonly registry?: string;
  readonly username?: string;
  readonly password?: string;
  /** The model name a bare alias refers to (modelship.yml's name). */
  readonly defaultName?: string;
  /** A folder to pull registry versions into (created on first use). */
  readonly cacheDir: () => Promise<string>;
}

export interface ResolvedSource {
  readonly dir: string;
  readonly name: string;
  readonly version: number;
  readonly digest: string;
  /** As given, for display. */
  readonly source: string;
  /** The alias a reference selected the version by (fashion@production → production). */
  readonly alias?: string;
  readonly metadata: ModelMetadata;
}

function looksLikePath(s: string): boolean {
  return s.startsWith('.') || s.startsWith('/') || s.startsWith('~') || /^[A-Za-z]:[\\/]/.test(s) || (s.includes('/') && !isOciLocation(s));
}

async function isDirectory(p: string): Promise<boolean> {
  try {
    return (await stat(p)).isDirectory();
  } catch {
    return false;
  }
}

/**
 * A content digest of a model folder: sha256 over the sorted names and sha256 of its top-level
 * files (not a registry manifest digest; a folder has none).
 */
export async function folderDigest(dir: string): Promise<string> {
  const names = (await readdir(dir, { withFileTypes: true }))
    .filter((e) => e.isFile() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort();
  const lines: string[] = [];
  for (const n of names) lines.push(`${n}\u0000${(await sha256File(path.join(dir, n))).hex}`);
  return `sha256:${sha256(lines.join('\n'))}`;
}

export async function resolveSource(spec: SourceSpec, ctx: SourceContext, where = '--model'): Promise<ResolvedSource> {
  const raw = spec.source.trim();
  const asPath = path.resolve(ctx.cwd, raw);
  if (await isDirectory(asPath)) {
    const metadata = await readMetadata(asPath);
    const name = spec.name ?? metadata.name;
    if (!name) {
      throw new ConfigurationError(
        `model folder '${raw}' has no name in its modelship.json.`,
        'Give the name to serve it under (--name fashion, or name: in the serve section).',
      );
    }
    assertName(name, `${where} ${raw}: model name`);
    return { dir: asPath, name, version: spec.version ?? 1, digest: await folderDigest(asPath), source: raw, metadata };
  }
  if (looksLikePath(raw)) {
    throw new ConfigurationError(
      `${where} '${raw}' names a folder that does not exist (${asPath}).`,
      'Pass the model-dir output of train, or a registry reference such as fashion@production.',
    );
  }
  const ref = parseReference(raw, { ...(ctx.defaultName ? { defaultName: ctx.defaultName } : {}), where });
  const location = ref.registry ?? ctx.registry ?? DEFAULT_REGISTRY;
  const registry = await openRegistry(location, {
    log: ctx.log,
    cwd: ctx.cwd,
    ...(ctx.username ? { username: ctx.username } : {}),
    ...(ctx.password ? { password: ctx.password } : {}),
    ...(ctx.defaultName ? { defaultName: ctx.defaultName } : {}),
  });
  const dest = path.join(await ctx.cacheDir(), `${ref.name}-${randomBytes(6).toString('hex')}`);
  const pulled = await registry.pull(ref, dest);
  if (spec.version !== undefined && spec.version !== pulled.resolved.version) {
    throw new ConfigurationError(
      `${where} '${raw}' is version ${pulled.resolved.version} in ${registry.display}, but version ${spec.version} was asked for.`,
      'Drop the version for registry references (the registry numbers them), or reference the version: name:<version>.',
    );
  }
  const name = spec.name ?? pulled.resolved.name;
  assertName(name, `${where} ${raw}: model name`);
  const metadata = await readMetadata(pulled.dir);
  ctx.log.info(`pulled ${pulled.resolved.ref} (${pulled.files.length} files)`);
  return {
    dir: pulled.dir,
    name,
    version: pulled.resolved.version,
    digest: pulled.resolved.digest,
    source: raw,
    ...(ref.alias ? { alias: ref.alias } : {}),
    metadata,
  };
}
