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
