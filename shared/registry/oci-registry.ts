/**
 * The model registry on top of any OCI store: versions as numeric tags, aliases as tags with a
 * small history record (`_alias.<alias>`, an OCI artifact of its own) so rollback is one step,
 * lineage through the config's parent, pulls verified blob by blob into a temporary sibling.
 */
import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readdir, readlink, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { MODEL_METADATA_FILE, modelFilesDigest } from '../model/index.ts';
import { ConfigurationError, fileKind, type Logger, ModelshipError, sha256, shortDigest } from '../util/index.ts';
import { ANNOTATION, buildArtifact, isSafeRelative, MODEL_ARTIFACT_TYPE, MODEL_CONFIG_MEDIA_TYPE } from './artifact.ts';
import {
  assertAlias,
  assertName,
  displayRef,
  formatReference,
  parseReference,
  type Reference,
  type RegistryLocation,
} from './reference.ts';
import {
  aliasRecordTag,
  encodeManifest,
  isAliasTag,
  OCI_EMPTY,
  OCI_MANIFEST,
  versionOfTag,
  type OciStore,
  type StoredManifest,
  type TagView,
} from './store.ts';
import type {
  AliasMove,
  AliasTarget,
  LayerInfo,
  ModelConfig,
  OpenOptions,
  PulledModel,
  PushOptions,
  RegisteredVersion,
  Registry,
  ResolvedRef,
  VersionDetails,
  VersionInfo,
} from './types.ts';

/** A reference that names nothing in the registry (a ConfigurationError; `isNotFound` tells it apart). */
export class NotFoundError extends ConfigurationError {
  readonly notFound = true;
}

/** True when a registry call failed because the name, version, alias or digest does not exist. */
export function isNotFound(err: unknown): err is NotFoundError {
  return err instanceof NotFoundError;
}

/** The tag that finds the version holding a model (by its files digest). */
export const modelTagOf = (modelDigest: string): string => `_model.${modelDigest.replace(/^sha256:/, '')}`;

export const ALIAS_ARTIFACT_TYPE = 'application/vnd.modelship.alias.v1';
export const ALIAS_RECORD_MEDIA_TYPE = 'application/vnd.modelship.alias.v1+json';
const MAX_CONFIG_BYTES = 4 * 1024 * 1024;
const EMPTY_BYTES = new TextEncoder().encode('{}');
const EMPTY_DESC = { mediaType: OCI_EMPTY, digest: `sha256:${sha256(EMPTY_BYTES)}`, size: 2 };

/** The history of one alias: a stack of targets (top = current) and a log of every move. */
export interface AliasRecord {
  readonly kind: 'modelship.alias';
  readonly name: string;
  readonly alias: string;
  readonly stack: readonly (AliasTarget & { readonly at: string })[];
  readonly log: readonly {
    readonly at: string;
    readonly action: 'promote' | 'rollback';
    readonly from?: AliasTarget;
    readonly to: AliasTarget;
    /** Tells this move apart from any other (a random hex string), so a mover can find it in a later history. */
    readonly id?: string;
  }[];
}

/** The next alias record after a promotion. Pure. */
export function recordPromotion(
  prev: AliasRecord | undefined,
  name: string,
  alias: string,
  current: AliasTarget | undefined,
  to: AliasTarget,
  at: string,
  id?: string,
): AliasRecord {
  let stack = [...(prev?.stack ?? [])];
  // The tag is the truth: if the record missed a move, put the tag's actual target on the stack.
  if (current && (stack.length === 0 || stack[stack.length - 1].digest !== current.digest)) stack.push({ ...current, at });
  if (stack.length === 0 || stack[stack.length - 1].digest !== to.digest) stack.push({ ...to, at });
  if (stack.length > 100) stack = stack.slice(stack.length - 100);
  const log = [
    ...(prev?.log ?? []),
    { at, action: 'promote' as const, ...(current ? { from: current } : {}), to, ...(id ? { id } : {}) },
  ].slice(-200);
  return { kind: 'modelship.alias', name, alias, stack, log };
}

/** The target a rollback goes to and the record after it, or undefined when there is no earlier target. Pure. */
export function planRollback(
  record: AliasRecord | undefined,
  current: AliasTarget,
  at: string,
  id?: string,
): { to: AliasTarget; record: AliasRecord } | undefined {
  if (!record) return undefined;
  const stack = [...record.stack];
  while (stack.length > 0 && stack[stack.length - 1].digest === current.digest) stack.pop();
  const top = stack[stack.length - 1];
  if (!top) return undefined;
  const to = { version: top.version, digest: top.digest };
  return {
    to,
    record: {
      ...record,
      stack,
      log: [...record.log, { at, action: 'rollback' as const, from: current, to, ...(id ? { id } : {}) }].slice(-200),
    },
  };
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export class OciRegistry implements Registry {
  readonly display: string;
  private readonly loc: RegistryLocation;
  private readonly store: OciStore;
  private readonly log: Logger;
  private readonly defaultName: string | undefined;

  constructor(loc: RegistryLocation, store: OciStore, opts: OpenOptions) {
    this.loc = loc;
    this.display = loc.display;
    this.store = store;
    this.log = opts.log;
    this.defaultName = opts.defaultName;
  }

  private parse(ref: Reference | string): Reference {
    const r = typeof ref === 'string' ? parseReference(ref, this.defaultName !== undefined ? { defaultName: this.defaultName } : {}) : ref;
    if (r.registry !== undefined) {
      const want = r.registry
        .replace(/^oci(\+http)?:\/\//i, '')
        .replace(/\/+$/, '')
        .toLowerCase();
      if (want !== this.display.toLowerCase()) {
        throw new ConfigurationError(
          `reference '${formatReference(r)}' names the registry ${r.registry}, but the registry in use is ${this.display}.`,
          `Drop the registry from the reference, or set registry to oci://${want}.`,
        );
      }
    }
    return r;
  }

  private notFound(r: Reference, what: string): NotFoundError {
    return new NotFoundError(
      `${formatReference({ ...r, registry: undefined })} ${what} in the registry ${this.display}.`,
      `List what is there with: modelship registry list ${r.name} --registry ${this.loc.kind === 'oci' ? `oci://${this.display}` : this.display}`,
    );
  }

  /** The version tag pointing at a digest (newest first), or undefined. */
  private async versionOf(name: string, digest: string): Promise<number | undefined> {
    const versions = (await this.store.listTags(name))
      .map(versionOfTag)
      .filter((v): v is number => v !== undefined)
      .sort((a, b) => b - a);
    for (const v of versions) if ((await this.store.tagDigest(name, String(v))) === digest) return v;
    return undefined;
  }

  private async aliasesOf(name: string, digest: string): Promise<string[]> {
    const m = await this.store.tagDigests(name, isAliasTag);
    return [...m]
      .filter(([, d]) => d === digest)
      .map(([t]) => t)
      .sort();
  }

  async resolve(ref: Reference | string): Promise<ResolvedRef> {
    const r = this.parse(ref);
    let digest: string | undefined;
    let version: number | undefined;
    if (r.digest !== undefined) {
      if (!(await this.store.getManifest(r.name, r.digest))) throw this.notFound(r, 'does not exist');
      digest = r.digest;
      version = await this.versionOf(r.name, digest);
      if (version === undefined) throw this.notFound(r, 'is not a registered version');
      if (r.version !== undefined && r.version !== version) {
        throw new ConfigurationError(
          `${formatReference(r)}: the digest is version ${version} of ${r.name}, not version ${r.version}.`,
          `Use ${r.name}:${version}@${digest} or drop the version.`,
        );
      }
    } else if (r.version !== undefined) {
      digest = await this.store.tagDigest(r.name, String(r.version));
      if (!digest) throw this.notFound(r, 'does not exist');
      version = r.version;
    } else if (r.alias !== undefined) {
      digest = await this.store.tagDigest(r.name, r.alias);
      if (!digest) throw this.notFound(r, 'does not exist (no version has that alias)');
      version = await this.versionOf(r.name, digest);
      if (version === undefined) throw this.notFound(r, 'points at a manifest that is not a registered version');
    } else {
      const versions = (await this.store.listTags(r.name)).map(versionOfTag).filter((v): v is number => v !== undefined);
      if (versions.length === 0) throw this.notFound(r, 'has no versions');
      version = Math.max(...versions);
      digest = await this.store.tagDigest(r.name, String(version));
      if (!digest) throw this.notFound({ ...r, version }, 'vanished while reading');
    }
    const aliases = await this.aliasesOf(r.name, digest);
    return { name: r.name, version, digest, aliases, ref: displayRef(this.loc, r.name, version, digest) };
  }

  async findModel(name: string, modelDigest: string): Promise<ResolvedRef | undefined> {
    const digest = await this.store.tagDigest(assertName(name), modelTagOf(modelDigest));
    if (!digest) return undefined;
    const version = await this.versionOf(name, digest);
    if (version === undefined) return undefined;
    return { name, version, digest, aliases: await this.aliasesOf(name, digest), ref: displayRef(this.loc, name, version, digest) };
  }

  async push(modelDir: string, opts: PushOptions): Promise<RegisteredVersion> {
    const name = assertName(opts.name);
    const now = (opts.now ?? (() => new Date()))();
    // The same model (the same model.json, weights and metadata) is not registered twice, whatever
    // report or run comes with it: a tag per model digest finds the version that holds it.
    const modelDigest = await modelFilesDigest(modelDir);
    const modelTag = modelTagOf(modelDigest);
    // A registry that refuses the lookup (a push-only token) is told so by the push itself, with the push scope.
    const held = await this.store.tagDigest(name, modelTag).catch((err: unknown) => {
      if (err instanceof ConfigurationError) return undefined;
      throw err;
    });
    if (held) {
      const version = await this.versionOf(name, held);
      const m = version !== undefined ? await this.store.getManifest(name, held) : undefined;
      if (version !== undefined && m) {
        this.log.debug(`${name}: model ${shortDigest(modelDigest)} is version ${version} already`);
        return {
          name,
          version,
          digest: held,
          aliases: await this.aliasesOf(name, held),
          ref: displayRef(this.loc, name, version, held),
          created: false,
          config: await this.readConfig(name, m),
          layers: m.manifest.layers.map(layerInfo),
          uploadedBytes: 0,
        };
      }
    }
    const built = await buildArtifact(modelDir, {
      name,
      ...(opts.report !== undefined ? { report: opts.report } : {}),
      ...(opts.dataset !== undefined ? { dataset: opts.dataset } : {}),
      ...(opts.provenance ? { provenance: opts.provenance } : {}),
      now,
    });
    let uploadedBytes = 0;
    await mapLimit(built.blobs, 4, async (blob) => {
      if (await this.store.hasBlob(name, blob.digest)) {
        this.log.debug(`blob ${shortDigest(blob.digest)} (${blob.label}) is already there`);
        return;
      }
      await this.store.putBlob(name, blob);
      uploadedBytes += blob.size;
    });
    const { version, created } = await this.store.createVersion(name, built.manifest);
    const digest = built.manifest.digest;
    await this.store.putManifest(name, built.manifest, modelTag);
    const layers = built.manifest.manifest.layers.map(layerInfo);
    const aliases = await this.aliasesOf(name, digest);
    return {
      name,
      version,
      digest,
      aliases,
      ref: displayRef(this.loc, name, version, digest),
      created,
      config: built.config,
      layers,
      uploadedBytes,
    };
  }

  private async readConfig(name: string, m: StoredManifest): Promise<ModelConfig> {
    if (m.manifest.artifactType !== MODEL_ARTIFACT_TYPE && m.manifest.config.mediaType !== MODEL_CONFIG_MEDIA_TYPE) {
      throw new ModelshipError(
        `${name}@${m.digest} is not a modelship model (artifactType ${m.manifest.artifactType ?? 'none'}).`,
        'Check the reference: it points at something else stored in the registry.',
      );
    }
    if (m.manifest.config.size > MAX_CONFIG_BYTES) {
      throw new ModelshipError(
        `${name}@${m.digest}: its config blob is ${m.manifest.config.size} bytes, more than a model config can be.`,
        'The artifact was not made by modelship.',
      );
    }
    const bytes = await this.store.readBlob(name, m.manifest.config, 'config');
    return JSON.parse(new TextDecoder().decode(bytes)) as ModelConfig;
  }

  private async manifestOf(r: ResolvedRef): Promise<StoredManifest> {
    const m = await this.store.getManifest(r.name, r.digest);
    if (!m)
      throw new ModelshipError(
        `manifest ${r.digest} of ${r.name}:${r.version} is missing from ${this.display}.`,
        'The registry lost it; register the model again.',
      );
    return m;
  }

  async pull(ref: Reference | string, destDir: string): Promise<PulledModel> {
    const resolved = await this.resolve(ref);
    const m = await this.manifestOf(resolved);
    const config = await this.readConfig(resolved.name, m);
    const dest = path.resolve(destDir);
    await checkPullDestination(dest);
    const parent = path.dirname(dest);
    await mkdir(parent, { recursive: true });
    const tmp = path.join(parent, `.${path.basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.partial`);
    await mkdir(tmp);
    const files: string[] = [];
    let bytes = 0;
    try {
      for (const layer of m.manifest.layers) {
        const title = layer.annotations?.[ANNOTATION.title];
        if (title === undefined || !isSafeRelative(title)) {
          throw new ModelshipError(
            `${resolved.ref}: layer ${shortDigest(layer.digest)} has an unsafe or missing file name ${JSON.stringify(title ?? null)}.`,
            'Refusing to write outside the destination folder; the artifact was not made by modelship.',
          );
        }
        if (files.includes(title)) {
          throw new ModelshipError(
            `${resolved.ref}: two layers are named '${title}'.`,
            'Refusing to write one file over another; the artifact was not made by modelship.',
          );
        }
        const file = path.join(tmp, title);
        await mkdir(path.dirname(file), { recursive: true });
        await this.store.fetchBlob(resolved.name, layer, file, title);
        files.push(title);
        bytes += layer.size;
      }
      let old: string | undefined;
      try {
        await lstat(dest);
        old = `${tmp}.old`;
        await rename(dest, old);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      await rename(tmp, dest);
      if (old) await rm(old, { recursive: true, force: true });
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return { dir: dest, resolved, config, files, bytes };
  }

  async list(name: string): Promise<VersionInfo[]> {
    assertName(name);
    const tags = await this.store.tagDigests(name, (t) => versionOfTag(t) !== undefined || isAliasTag(t));
    const aliasesBy = new Map<string, string[]>();
    for (const [t, d] of tags) if (isAliasTag(t)) aliasesBy.set(d, [...(aliasesBy.get(d) ?? []), t].sort());
    const versions = [...tags].filter(([t]) => versionOfTag(t) !== undefined).sort((a, b) => Number(a[0]) - Number(b[0]));
    return mapLimit(versions, 6, async ([t, digest]) => {
      let metrics: Record<string, number> = {};
      let created: string | undefined;
      try {
        const m = await this.store.getManifest(name, digest);
        if (m) {
          const c = await this.readConfig(name, m);
          metrics = { ...c.metrics };
          created = c.created;
        }
      } catch (err) {
        this.log.warning(`${name}:${t}: cannot read its metadata (${(err as Error).message})`);
      }
      return { name, version: Number(t), digest, aliases: aliasesBy.get(digest) ?? [], ...(created ? { created } : {}), metrics };
    });
  }

  /** The alias record at a manifest digest (the history tag's), or undefined when there is none or it is unreadable. */
  private async readRecordAt(name: string, alias: string, digest: string | undefined): Promise<AliasRecord | undefined> {
    if (!digest) return undefined;
    try {
      const m = await this.store.getManifest(name, digest);
      if (!m) return undefined;
      const bytes = await this.store.readBlob(name, m.manifest.config, `alias record ${alias}`);
      const rec = JSON.parse(new TextDecoder().decode(bytes)) as AliasRecord;
      return rec.kind === 'modelship.alias' && Array.isArray(rec.stack) && Array.isArray(rec.log) ? rec : undefined;
    } catch (err) {
      this.log.warning(`the history of ${name}@${alias} is unreadable (${(err as Error).message}); starting a new one.`);
      return undefined;
    }
  }

  /** Stores the record's blobs and returns its manifest (tagged by the caller's transaction). */
  private async recordManifest(name: string, record: AliasRecord): Promise<StoredManifest> {
    const bytes = new TextEncoder().encode(JSON.stringify(record));
    const digest = `sha256:${sha256(bytes)}`;
    if (!(await this.store.hasBlob(name, digest)))
      await this.store.putBlob(name, { digest, size: bytes.length, label: `alias record ${record.alias}`, bytes });
    if (!(await this.store.hasBlob(name, EMPTY_DESC.digest)))
      await this.store.putBlob(name, { ...EMPTY_DESC, label: 'empty', bytes: EMPTY_BYTES });
    return encodeManifest({
      schemaVersion: 2,
      mediaType: OCI_MANIFEST,
      artifactType: ALIAS_ARTIFACT_TYPE,
      config: { mediaType: ALIAS_RECORD_MEDIA_TYPE, digest, size: bytes.length },
      layers: [EMPTY_DESC],
      annotations: { [ANNOTATION.title]: `${record.name}@${record.alias}` },
    });
  }

  /** True when the alias history the tags now point at records the move `id`. */
  private async hasMove(name: string, alias: string, tags: TagView, id: string): Promise<boolean> {
    const rec = await this.readRecordAt(name, alias, await tags.tag(aliasRecordTag(alias)));
    return rec?.log.some((e) => e.id === id) ?? false;
  }

  /** The version tag of a digest in a transaction's view of the tags (newest first). */
  private static async versionIn(tags: TagView, digest: string): Promise<number | undefined> {
    const versions = (await tags.list())
      .map(versionOfTag)
      .filter((v): v is number => v !== undefined)
      .sort((a, b) => b - a);
    for (const v of versions) if ((await tags.tag(String(v))) === digest) return v;
    return undefined;
  }

  /**
   * Where the alias points as the transaction sees it: the last move its history records (the
   * history is what every move rewrites under the transaction), else the tag. The tag lags its
   * history only where an earlier move's tag write is in flight (remotely) or was lost; a tag moved
   * outside modelship is reported.
   */
  private async currentIn(name: string, alias: string, tags: TagView, record: AliasRecord | undefined): Promise<AliasTarget | undefined> {
    const digest = await tags.tag(alias);
    const version = digest ? await OciRegistry.versionIn(tags, digest) : undefined;
    const fromTag = digest && version !== undefined ? { version, digest } : undefined;
    const last = record?.log[record.log.length - 1]?.to;
    if (!last) return fromTag;
    if (fromTag && fromTag.digest !== last.digest) {
      this.log.warning(
        `${name}@${alias} points at v${fromTag.version}, but its history's last move went to v${last.version}; moving on from the history's.`,
      );
    }
    return { version: last.version, digest: last.digest };
  }

  /**
   * Points an alias at a version: reading where it points, writing the tag and appending the
   * history are one transaction (OciStore.moveTags), so concurrent moves form a chain (each move's
   * `from` is the previous move's `to`) and the tag is the history's last `to`.
   */
  async setAlias(name: string, alias: string, version: number): Promise<AliasMove> {
    assertName(name);
    assertAlias(alias);
    // Versions never move: the target is resolved outside the transaction.
    const target = await this.resolve({ name, version });
    const m = await this.manifestOf(target);
    const to = { version: target.version, digest: target.digest };
    const recordTag = aliasRecordTag(alias);
    const move = await this.store.moveTags(name, recordTag, async (tags) => {
      const prev = await this.readRecordAt(name, alias, await tags.tag(recordTag));
      const current = await this.currentIn(name, alias, tags, prev);
      const id = randomBytes(8).toString('hex');
      const record = recordPromotion(prev, name, alias, current, to, new Date().toISOString(), id);
      const put = [{ tag: recordTag, manifest: await this.recordManifest(name, record) }];
      if ((await tags.tag(alias)) !== to.digest) put.push({ tag: alias, manifest: m });
      const result: AliasMove = { name, alias, ...(current ? { from: current } : {}), to, action: 'promote' };
      return { put, result, applied: (now) => this.hasMove(name, alias, now, id) };
    });
    this.log.debug(`${name}@${alias}: ${move.from ? `v${move.from.version}` : '(new)'} → v${to.version}`);
    return move;
  }

  /** Points an alias back at its previous target, as one transaction (see setAlias). */
  async rollback(name: string, alias: string): Promise<AliasMove> {
    assertName(name);
    assertAlias(alias);
    const recordTag = aliasRecordTag(alias);
    const move = await this.store.moveTags(name, recordTag, async (tags) => {
      const prev = await this.readRecordAt(name, alias, await tags.tag(recordTag));
      const current = await this.currentIn(name, alias, tags, prev);
      if (!current) {
        throw new ConfigurationError(
          `${name}@${alias} does not exist in ${this.display}, so there is nothing to roll back.`,
          `Promote a version first: modelship registry promote ${name}:<version> ${alias}`,
        );
      }
      const id = randomBytes(8).toString('hex');
      const plan = planRollback(prev, current, new Date().toISOString(), id);
      if (!plan) {
        throw new ConfigurationError(
          `${name}@${alias} (v${current.version}) has no earlier target to roll back to.`,
          `Point it at a version explicitly: modelship registry promote ${name}:<version> ${alias}`,
        );
      }
      const m = await this.manifestOf({ name, version: plan.to.version, digest: plan.to.digest, aliases: [], ref: '' });
      const result: AliasMove = { name, alias, from: current, to: plan.to, action: 'rollback' };
      return {
        put: [
          { tag: recordTag, manifest: await this.recordManifest(name, plan.record) },
          { tag: alias, manifest: m },
        ],
        result,
        applied: (now) => this.hasMove(name, alias, now, id),
      };
    });
    this.log.debug(`${name}@${alias}: rolled back v${move.from!.version} → v${move.to.version}`);
    return move;
  }

  /** The alias history: every move, oldest first (for `registry history` and tests). */
  async aliasHistory(name: string, alias: string): Promise<AliasRecord['log']> {
    assertName(name);
    assertAlias(alias);
    const digest = await this.store.tagDigest(name, aliasRecordTag(alias));
    return (await this.readRecordAt(name, alias, digest))?.log ?? [];
  }

  async show(ref: Reference | string): Promise<VersionDetails> {
    const resolved = await this.resolve(ref);
    const m = await this.manifestOf(resolved);
    const config = await this.readConfig(resolved.name, m);
    const lineage: VersionDetails['lineage'][number][] = [{ name: resolved.name, version: resolved.version, digest: resolved.digest }];
    let parent = config.parent;
    const seen = new Set([resolved.digest]);
    while (parent && lineage.length < 20) {
      lineage.push(parent);
      const pname = parent.name ?? resolved.name;
      if (!parent.digest || seen.has(parent.digest) || pname !== resolved.name) break;
      seen.add(parent.digest);
      try {
        const pm = await this.store.getManifest(pname, parent.digest);
        if (!pm) break;
        parent = (await this.readConfig(pname, pm)).parent;
      } catch {
        break;
      }
    }
    return { resolved, config, layers: m.manifest.layers.map(layerInfo), annotations: m.manifest.annotations ?? {}, lineage };
  }
}

function layerInfo(d: { mediaType: string; digest: string; size: number; annotations?: Readonly<Record<string, string>> }): LayerInfo {
  return { title: d.annotations?.[ANNOTATION.title] ?? '', mediaType: d.mediaType, digest: d.digest, size: d.size };
}

/** A pull may replace a missing folder, an empty one or a model folder; anything else is refused. */
async function checkPullDestination(dest: string): Promise<void> {
  let entries: string[];
  try {
    // lstat: a link at the destination is never followed (the pull would replace the link, and
    // a model folder read there later is read through the safe reader, util/fs.ts).
    const s = await lstat(dest);
    if (s.isSymbolicLink()) {
      throw new ConfigurationError(
        `pull destination '${dest}' is a symbolic link (to ${await readlink(dest)}); a pull writes a real folder, never through a link.`,
        'Pass a path that is not a link: a new folder, an empty one or a model folder to replace.',
      );
    }
    if (!s.isDirectory()) {
      throw new ConfigurationError(`pull destination '${dest}' is ${fileKind(s)}.`, 'Pass a folder that does not exist yet.');
    }
    entries = await readdir(dest);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (entries.length > 0 && !entries.includes(MODEL_METADATA_FILE)) {
    throw new ConfigurationError(
      `pull destination '${dest}' is a folder with other content (no ${MODEL_METADATA_FILE}); it would be replaced.`,
      'Pass a new or empty folder, or a model folder to replace.',
    );
  }
}
