/**
 * Content hashing for setup-data: streaming sha256 with large reads, behind a small interface so
 * tests can count the files actually read (the fast path must not re-hash unchanged files).
 */
import { ConfigurationError, HASH_READ_SIZE, openRegularFile, sha256Handle } from '../util/index.ts';

export { HASH_READ_SIZE };

export interface FileDigest {
  /** Lowercase hex sha256 of the file's bytes. */
  readonly sha256: string;
  readonly size: number;
}

export interface Hasher {
  hashFile(file: string): Promise<FileDigest>;
}

/** sha256 of a file opened without following a link, which must be a regular file (util/fs.ts). */
export async function hashFile(file: string): Promise<FileDigest> {
  const fh = await openRegularFile(file);
  try {
    const { hex, size } = await sha256Handle(fh);
    return { sha256: hex, size };
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
