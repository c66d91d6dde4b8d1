/**
 * What a transport must provide: content-addressed blobs, manifests and tags of one OCI
 * repository per model name, and the one operation whose concurrency rules differ between
 * transports: allocating a version number.
 *
 * The model semantics (artifact layout, aliases and their history, lineage, pulling into a folder)
 * live once in `oci-registry.ts`, on top of this.
 */
import { sha256 } from '../util/index.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_EMPTY = 'application/vnd.oci.empty.v1+json';
export const REF_NAME = 'org.opencontainers.image.ref.name';

export interface Descriptor {
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
  readonly artifactType?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

export interface Manifest {
  readonly schemaVersion: 2;
  readonly mediaType: typeof OCI_MANIFEST;
  readonly artifactType?: string;
  readonly config: Descriptor;
  readonly layers: readonly Descriptor[];
  readonly annotations?: Readonly<Record<string, string>>;
}

/** A manifest with its exact bytes (the digest is over these bytes). */
export interface StoredManifest {
  readonly digest: string;
  readonly bytes: Uint8Array;
  readonly manifest: Manifest;
}

/** A blob to upload: from a file or from memory. */
export interface BlobSource {
  readonly digest: string;
  readonly size: number;
  /** What the blob is, for errors (a file name, "config"). */
  readonly label: string;
  readonly file?: string;
  readonly bytes?: Uint8Array;
}

/** The tags of one repository, as a transaction sees them. */
export interface TagView {
  /** The digest a tag points at, or undefined. */
  tag(tag: string): Promise<string | undefined>;
  /** Every tag of the repository. */
  list(): Promise<readonly string[]>;
}

/** What a tag transaction writes: tags to point at manifests, and what it returns. */
export interface TagPlan<T> {
  readonly put: readonly { readonly tag: string; readonly manifest: StoredManifest }[];
  readonly result: T;
  /**
   * After a lost race (remotely): whether the winner built on this plan's write, so that its
   * effect is in already and must not be applied again (it is then superseded, not lost).
   */
  readonly applied?: (tags: TagView) => Promise<boolean>;
}

export interface OciStore {
  hasBlob(name: string, digest: string): Promise<boolean>;
  putBlob(name: string, blob: BlobSource): Promise<void>;
  /** Streams a blob into `dest`, verifying size and digest; the error names `label` and the digest. */
  fetchBlob(name: string, desc: Descriptor, dest: string, label: string): Promise<void>;
  /** A small blob in memory, verified. */
  readBlob(name: string, desc: Descriptor, label: string): Promise<Uint8Array>;
  /** By tag or digest; undefined when absent. The digest of the bytes is verified. */
  getManifest(name: string, reference: string): Promise<StoredManifest | undefined>;
  /** The digest a tag points at, or undefined. */
  tagDigest(name: string, tag: string): Promise<string | undefined>;
  /** Every tag of the repository ([] when it does not exist). */
  listTags(name: string): Promise<string[]>;
  /** tag → digest for the tags that pass `filter` (a transport may do this in one read). */
  tagDigests(name: string, filter: (tag: string) => boolean): Promise<Map<string, string>>;
  /** Points a tag at a manifest (uploading the manifest if needed). */
  putManifest(name: string, m: StoredManifest, tag: string): Promise<void>;
  /**
   * Tags the manifest with the next free version number, or returns the version that already
   * holds this digest (idempotent). Never gives one number to two digests.
   */
  createVersion(name: string, m: StoredManifest): Promise<{ version: number; created: boolean }>;
  /**
   * Reads the current tags and moves some, as one transaction against every other `moveTags`
   * (alias moves: read the target, write the tag, append the history). `plan` sees the tags and
   * returns the tags to point at manifests (it may store blobs, which are content-addressed, and it
   * may run more than once). Locally: under the index lock, and readers see all tags move at once.
   * Remotely, where OCI registries have no compare-and-swap: optimistic on `guard`, a tag the plan
   * always rewrites (the alias history): its digest is checked just before it is replaced and read
   * back after a settle delay, and a lost race runs the plan again on the winner's state.
   */
  moveTags<T>(name: string, guard: string, plan: (tags: TagView) => Promise<TagPlan<T>>): Promise<T>;
}

/** Canonical manifest bytes: the same content always gives the same digest. */
export function encodeManifest(manifest: Manifest): StoredManifest {
  const bytes = new TextEncoder().encode(JSON.stringify(manifest));
  return { digest: `sha256:${sha256(bytes)}`, bytes, manifest };
}

export function decodeManifest(bytes: Uint8Array, digest: string, where: string): StoredManifest {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes)) as Manifest;
  } catch {
    throw new Error(`${where}: manifest ${digest} is not JSON.`);
  }
  if (manifest.schemaVersion !== 2 || !manifest.config || !Array.isArray(manifest.layers)) {
    throw new Error(`${where}: ${digest} is not an OCI image manifest.`);
  }
  // Descriptors come from the registry: only well-formed digests and sizes reach URLs and paths.
  const descriptors: readonly Partial<Descriptor>[] = [manifest.config, ...(manifest.layers as readonly Descriptor[])];
  for (const desc of descriptors) {
    const ok =
      typeof desc.digest === 'string' &&
      /^sha256:[0-9a-f]{64}$/.test(desc.digest) &&
      Number.isSafeInteger(desc.size) &&
      (desc.size ?? -1) >= 0;
    if (!ok)
      throw new Error(`${where}: manifest ${digest} has a malformed descriptor (${JSON.stringify(desc.digest ?? null).slice(0, 80)}).`);
  }
  return { digest, bytes, manifest };
}

/** The version a tag stands for, or undefined for alias and record tags. */
export function versionOfTag(tag: string): number | undefined {
  return /^[1-9][0-9]{0,8}$/.test(tag) ? Number(tag) : undefined;
}

/** The next version to allocate: one more than the highest version tag (1 for a new name). */
export function nextVersion(tags: Iterable<string>): number {
  let max = 0;
  for (const t of tags) {
    const v = versionOfTag(t);
    if (v !== undefined && v > max) max = v;
  }
  return max + 1;
}

/** Tags that are aliases (not versions, not records such as `_alias.production`). */
export function isAliasTag(tag: string): boolean {
  return versionOfTag(tag) === undefined && /^[a-z]/.test(tag);
}

export function aliasRecordTag(alias: string): string {
  return `_alias.${alias}`;
}
