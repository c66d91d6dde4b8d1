/**
 * Content hashing for setup-data: streaming sha256 with large reads, behind a small interface so
 * tests can count the files actually read (the fast path must not re-hash unchanged files).
 */
import { createHash, hash } from 'node:crypto';
import { ConfigurationError, openRegularFile } from '../util/index.ts';

/** Bytes read per call: large reads keep the hash, not the syscalls, the bottleneck. */
export const HASH_READ_SIZE = 4 << 20;

export interface FileDigest {
  /** Lowercase hex sha256 of the file's bytes. */
  readonly sha256: string;
  readonly size: number;
}

export interface Hasher {
  hashFile(file: string): Promise<FileDigest>;
}

/**
 * Reads the file and feeds sha256: a file smaller than one block in one read and one-shot hash
 * (many small images), a larger one in HASH_READ_SIZE blocks through one reused buffer. The file
 * is opened without following a link and must be a regular file (util/fs.ts).
 */
export async function hashFile(file: string): Promise<FileDigest> {
  const fh = await openRegularFile(file);
  try {
    const { size: statSize } = await fh.stat();
    if (statSize < HASH_READ_SIZE) {
      const data = await fh.readFile();
      return { sha256: hash('sha256', data), size: data.length };
    }
    const h = createHash('sha256');
    const buf = Buffer.allocUnsafe(HASH_READ_SIZE);
    let size = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      h.update(bytesRead === buf.length ? buf : buf.subarray(0, bytesRead));
      size += bytesRead;
    }
    return { sha256: h.digest('hex'), size };
  } finally {
    await fh.close();
  }
}

export const sha256Hasher: Hasher = { hashFile };

/** A hasher that counts the files it hashed (for tests and logs). */
export function countingHasher(inner: Hasher = sha256Hasher): Hasher & { files: string[] } {
  const files: string[] = [];
  return {
    files,
    hashFile: (file) => {
      files.push(file);
      return inner.hashFile(file);
    },
  };
}

/** Parses a checksum input: 64 hex digits, optionally prefixed `sha256:`. Returns lowercase hex. */
export function parseChecksum(raw: string, inputName = 'checksum'): string {
  const m = /^(?:sha256:)?([0-9a-fA-F]{64})$/.exec(raw.trim());
  if (!m?.[1]) {
    throw new ConfigurationError(
      `input '${inputName}' must be a sha256 (64 hex digits, optionally prefixed sha256:), got '${raw.trim()}'.`,
      `Compute it with 'sha256sum <file>' and set ${inputName} to the hex digest.`,
    );
  }
  return m[1].toLowerCase();
}
