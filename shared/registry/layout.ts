/**
 * The local transport: a folder in OCI image-layout form.
 *
 *   <root>/oci-layout            {"imageLayoutVersion":"1.0.0"}
 *   <root>/index.json            one descriptor per tag; org.opencontainers.image.ref.name = fashion:3, fashion:production
 *   <root>/blobs/sha256/<hex>    manifests, configs and layers
 *
 * Blobs are written through a temporary file and a rename (content-addressed, so concurrent
 * writers of one blob agree). Every change to index.json is a read-modify-write under a lock
 * (proper-lockfile, stale after a few seconds so a killed holder cannot block for long), written
 * to a temporary file and renamed, so readers never see a torn index.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, rmdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import lockfile from 'proper-lockfile';
import { type Logger, ModelshipError, shortDigest, writeFileAtomic, writeJsonAtomic } from '../util/index.ts';
import { ANNOTATION } from './artifact.ts';
import {
  decodeManifest,
  nextVersion,
  OCI_INDEX,
  REF_NAME,
  versionOfTag,
  type BlobSource,
  type Descriptor,
  type OciStore,
  type StoredManifest,
  type TagPlan,
  type TagView,
} from './store.ts';

interface LayoutIndex {
  schemaVersion: 2;
  mediaType: typeof OCI_INDEX;
  manifests: Descriptor[];
}

const LOCK_STALE_MS = 5000;

/** Flushes a file to disk, so index.json never names a blob that a crash could lose. */
async function fsyncFile(file: string): Promise<void> {
  const fh = await open(file, 'r+');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

function corrupt(label: string, digest: string, got: string, size: number, want: number): ModelshipError {
  return new ModelshipError(
    `blob ${digest} (${label}) is corrupt: its content ${size !== want ? `is ${size} bytes, not ${want}` : `hashes to ${got}`}.`,
    'The registry copy is damaged; register the model again (or restore the blob) and retry.',
  );
}

export class LayoutStore implements OciStore {
  private readonly root: string;
  private readonly log: Logger;

  constructor(root: string, log: Logger) {
    this.root = path.resolve(root);
    this.log = log;
  }

  private blobPath(digest: string): string {
    if (!/^sha256:[0-9a-f]{64}$/.test(digest))
      throw new ModelshipError(`'${digest}' is not a sha256 digest.`, 'The registry index is damaged.');
    return path.join(this.root, 'blobs', 'sha256', digest.slice('sha256:'.length));
  }

  private async readIndexText(): Promise<string | undefined> {
    try {
      return await readFile(path.join(this.root, 'index.json'), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  private parseIndex(text: string | undefined): LayoutIndex {
    if (text === undefined) return { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] };
    try {
      const idx = JSON.parse(text) as LayoutIndex;
      if (!Array.isArray(idx.manifests)) throw new Error('no manifests array');
      return idx;
    } catch (err) {
      throw new ModelshipError(
        `${path.join(this.root, 'index.json')} is not a valid OCI index (${(err as Error).message}).`,
        'Restore it from a backup; the blobs are untouched.',
      );
    }
  }

  private async readIndex(): Promise<LayoutIndex> {
    return this.parseIndex(await this.readIndexText());
  }

  /** Creates what is missing of the layout; true when this call created `.partial/`. */
  private async ensureLayout(): Promise<boolean> {
    await mkdir(path.join(this.root, 'blobs', 'sha256'), { recursive: true });
    // Blobs being written live here until whole; a failed or refused write removes its file.
    const partialCreated = (await mkdir(path.join(this.root, '.partial'), { recursive: true })) !== undefined;
    try {
      await stat(path.join(this.root, 'oci-layout'));
    } catch {
      await writeFileAtomic(path.join(this.root, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}\n');
    }
    return partialCreated;
  }

  /**
   * Runs a read-modify-write of index.json under the lock. As a second guard (a holder stalled for
   * longer than the stale time loses its lock to another process), the index is re-read just
   * before the rename: if it changed since it was read, the update starts over.
   */
  private async updateIndex<T>(
    fn: (idx: LayoutIndex) => { index?: LayoutIndex; result: T } | Promise<{ index?: LayoutIndex; result: T }>,
  ): Promise<T> {
    await this.ensureLayout();
    for (let attempt = 1; ; attempt++) {
      let compromised: Error | undefined;
      const release = await lockfile.lock(this.root, {
        lockfilePath: path.join(this.root, 'index.json.lock'),
        realpath: false,
        stale: LOCK_STALE_MS,
        retries: { retries: 400, factor: 1.3, minTimeout: 5, maxTimeout: 100, randomize: true },
        onCompromised: (err) => {
          compromised = err;
        },
      });
      try {
        const before = await this.readIndexText();
        const { index, result } = await fn(this.parseIndex(before));
        if (!index) return result;
        const unchanged = (await this.readIndexText()) === before;
        if (unchanged && !compromised) {
          await writeJsonAtomic(path.join(this.root, 'index.json'), index);
          return result;
        }
        if (attempt >= 20) {
          throw new ModelshipError(
            `the registry index ${path.join(this.root, 'index.json')} kept changing under the lock.`,
            'Another process is writing it without the lock; stop it and retry.',
          );
        }
        this.log.debug(
          `registry index changed under the lock (${compromised ? compromised.message : 'lock taken over'}); starting the update again`,
        );
      } finally {
        await release().catch((err: unknown) => this.log.debug(`registry lock release: ${(err as Error).message}`));
      }
    }
  }

  async hasBlob(_name: string, digest: string): Promise<boolean> {
    try {
      return (await stat(this.blobPath(digest))).isFile();
    } catch {
      return false;
    }
  }

  async putBlob(_name: string, blob: BlobSource): Promise<void> {
    const partialCreated = await this.ensureLayout();
    const target = this.blobPath(blob.digest);
    // Partial blobs live outside blobs/sha256 (where every file must be a whole, named blob), so a
    // writer killed midway leaves at most a stray file in .partial/.
    const partial = path.join(this.root, '.partial');
    const tmp = path.join(partial, `${blob.digest.slice('sha256:'.length)}.${process.pid}.${randomBytes(4).toString('hex')}`);
    try {
      // A refused attempt that created .partial/ removes it when empty (below), which a concurrent
      // writer can meet between its mkdir and its first write: it makes the folder again and retries.
      for (let attempt = 1; ; attempt++) {
        try {
          await this.writePartial(tmp, blob);
          break;
        } catch (err) {
          if (attempt >= 3 || (err as NodeJS.ErrnoException).code !== 'ENOENT' || (err as NodeJS.ErrnoException).path !== tmp) throw err;
          await mkdir(partial, { recursive: true });
        }
      }
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      // Only a .partial/ this attempt made, and only while empty (rmdir refuses otherwise).
      if (partialCreated) await rmdir(partial).catch(() => undefined);
      throw err;
    }
  }

  /** Writes a blob's content to `tmp` and syncs it; a file source must still hash to the blob's digest and size. */
  private async writePartial(tmp: string, blob: BlobSource): Promise<void> {
    if (blob.bytes) {
      await writeFile(tmp, blob.bytes);
      await fsyncFile(tmp);
    } else if (blob.file) {
      const hash = createHash('sha256');
      let size = 0;
      const src = createReadStream(blob.file);
      src.on('data', (c) => {
        const b = c as Buffer;
        hash.update(b);
        size += b.length;
      });
      await pipeline(src, createWriteStream(tmp));
      await fsyncFile(tmp);
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== blob.digest || size !== blob.size) {
        throw new ModelshipError(
          `${blob.label} changed while it was being registered.`,
          'Do not modify the model folder during register; run it again.',
        );
      }
    } else {
      throw new Error(`blob ${blob.label} has no content`);
    }
  }

  async fetchBlob(_name: string, desc: Descriptor, dest: string, label: string): Promise<void> {
    const src = this.blobPath(desc.digest);
    const hash = createHash('sha256');
    let size = 0;
    try {
      const rs = createReadStream(src);
      rs.on('data', (c) => {
        const b = c as Buffer;
        hash.update(b);
        size += b.length;
      });
      await pipeline(rs, createWriteStream(dest, { flags: 'wx' }));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') await rm(dest, { force: true });
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new ModelshipError(
          `blob ${desc.digest} (${label}) is missing from ${this.root}.`,
          'The registry copy is damaged; register the model again.',
        );
      }
      throw err;
    }
    const got = `sha256:${hash.digest('hex')}`;
    if (got !== desc.digest || size !== desc.size) {
      await rm(dest, { force: true });
      throw corrupt(label, desc.digest, got, size, desc.size);
    }
  }

  async readBlob(_name: string, desc: Descriptor, label: string): Promise<Uint8Array> {
    let bytes: Buffer;
    try {
      bytes = await readFile(this.blobPath(desc.digest));
    } catch {
      throw new ModelshipError(
        `blob ${desc.digest} (${label}) is missing from ${this.root}.`,
        'The registry copy is damaged; register the model again.',
      );
    }
    const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (got !== desc.digest || bytes.length !== desc.size) throw corrupt(label, desc.digest, got, bytes.length, desc.size);
    return new Uint8Array(bytes);
  }

  private static tagsOf(idx: LayoutIndex, name: string): Map<string, string> {
    const prefix = `${name}:`;
    const out = new Map<string, string>();
    for (const d of idx.manifests) {
      const ref = d.annotations?.[REF_NAME];
      if (ref?.startsWith(prefix)) out.set(ref.slice(prefix.length), d.digest);
    }
    return out;
  }

  async getManifest(name: string, reference: string): Promise<StoredManifest | undefined> {
    const tags = LayoutStore.tagsOf(await this.readIndex(), name);
    const digest = reference.startsWith('sha256:') ? ([...tags.values()].includes(reference) ? reference : undefined) : tags.get(reference);
    if (!digest) return undefined;
    const desc = { mediaType: '', digest, size: -1 };
    let bytes: Buffer;
    try {
      bytes = await readFile(this.blobPath(desc.digest));
    } catch {
      throw new ModelshipError(
        `manifest ${digest} of ${name} is missing from ${this.root}.`,
        'The registry copy is damaged; register the model again.',
      );
    }
    const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
    if (got !== digest) throw corrupt(`manifest of ${name}`, digest, got, bytes.length, bytes.length);
    return decodeManifest(new Uint8Array(bytes), digest, this.root);
  }

  async tagDigest(name: string, tag: string): Promise<string | undefined> {
    return LayoutStore.tagsOf(await this.readIndex(), name).get(tag);
  }

  async listTags(name: string): Promise<string[]> {
    return [...LayoutStore.tagsOf(await this.readIndex(), name).keys()];
  }

  async tagDigests(name: string, filter: (tag: string) => boolean): Promise<Map<string, string>> {
    const all = LayoutStore.tagsOf(await this.readIndex(), name);
    return new Map([...all].filter(([t]) => filter(t)));
  }

  private async writeManifestBlob(m: StoredManifest): Promise<void> {
    if (!(await this.hasBlob('', m.digest)))
      await this.putBlob('', { digest: m.digest, size: m.bytes.length, label: 'manifest', bytes: m.bytes });
  }

  private static descriptor(m: StoredManifest, ref: string, extra: Record<string, string> = {}): Descriptor {
    return {
      mediaType: m.manifest.mediaType,
      digest: m.digest,
      size: m.bytes.length,
      ...(m.manifest.artifactType ? { artifactType: m.manifest.artifactType } : {}),
      annotations: { [REF_NAME]: ref, ...extra },
    };
  }

  async putManifest(name: string, m: StoredManifest, tag: string): Promise<void> {
    await this.writeManifestBlob(m);
    const ref = `${name}:${tag}`;
    await this.updateIndex((idx) => {
      const manifests = idx.manifests.filter((d) => d.annotations?.[REF_NAME] !== ref);
      manifests.push(LayoutStore.descriptor(m, ref));
      return { index: { ...idx, manifests }, result: undefined };
    });
  }

  async moveTags<T>(name: string, _guard: string, plan: (tags: TagView) => Promise<TagPlan<T>>): Promise<T> {
    // The whole read-plan-write under the one index lock; every tag moves in one rename.
    return this.updateIndex(async (idx) => {
      const tags = LayoutStore.tagsOf(idx, name);
      const { put, result } = await plan({ tag: (t) => Promise.resolve(tags.get(t)), list: () => Promise.resolve([...tags.keys()]) });
      if (put.length === 0) return { result };
      for (const p of put) await this.writeManifestBlob(p.manifest);
      const refs = new Set(put.map((p) => `${name}:${p.tag}`));
      const manifests = [
        ...idx.manifests.filter((d) => !refs.has(d.annotations?.[REF_NAME] ?? '')),
        ...put.map((p) => LayoutStore.descriptor(p.manifest, `${name}:${p.tag}`)),
      ];
      return { index: { ...idx, manifests }, result };
    });
  }

  async createVersion(name: string, m: StoredManifest): Promise<{ version: number; created: boolean }> {
    await this.writeManifestBlob(m);
    return this.updateIndex<{ version: number; created: boolean }>((idx) => {
      const tags = LayoutStore.tagsOf(idx, name);
      for (const [t, d] of tags) {
        const v = versionOfTag(t);
        if (v !== undefined && d === m.digest) return { result: { version: v, created: false } };
      }
      const version = nextVersion(tags.keys());
      const manifests = [...idx.manifests, LayoutStore.descriptor(m, `${name}:${version}`, { [ANNOTATION.version]: String(version) })];
      this.log.debug(`${name}:${version} → ${shortDigest(m.digest)}`);
      return { index: { ...idx, manifests }, result: { version, created: true } };
    });
  }
}
