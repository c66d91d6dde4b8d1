/** Builders for data tests: temp folders, PNG/JPEG images, IDX files, hand-made zip and tar archives. */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { crc32, gzipSync } from 'node:zlib';
import sharp from 'sharp';
import { Header } from 'tar';

const made: string[] = [];

/** A fresh temporary folder, removed by `removeTempDirs` (each test file calls it in `after`). */
export async function tempDir(prefix = 'ms-data-'): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

/** Pixels that differ per (seed, position): distinct images for distinct seeds. */
export function pixels(width: number, height: number, channels: number, seed: number): Buffer {
  const buf = Buffer.alloc(width * height * channels);
  for (let i = 0; i < buf.length; i++) buf[i] = (seed * 31 + i * 7 + ((seed * i) % 13)) & 0xff;
  return buf;
}

export async function writeImage(
  file: string,
  opts: { width?: number; height?: number; channels?: 1 | 3; seed?: number; format?: 'png' | 'jpeg' } = {},
): Promise<void> {
  const { width = 8, height = 8, channels = 1, seed = 0, format = 'png' } = opts;
  await mkdir(path.dirname(file), { recursive: true });
  const img = sharp(pixels(width, height, channels, seed), { raw: { width, height, channels } });
  const png = channels === 1 ? img.toColourspace('b-w').png() : img.png();
  await writeFile(file, format === 'png' ? await png.toBuffer() : await img.jpeg({ quality: 95 }).toBuffer());
}

/** `<root>/<class>/<class>-<k>.png` for each class and count. Seeds are unique across the folder. */
export async function makeImageFolder(
  root: string,
  counts: Record<string, number>,
  opts: { width?: number; height?: number; channels?: 1 | 3; seedBase?: number } = {},
): Promise<void> {
  let seed = opts.seedBase ?? 1;
  for (const [cls, n] of Object.entries(counts)) {
    await mkdir(path.join(root, cls), { recursive: true });
    for (let k = 0; k < n; k++) await writeImage(path.join(root, cls, `${cls}-${k}.png`), { ...opts, seed: seed++ });
  }
}

export function idxImages(n: number, rows: number, cols: number, seedBase = 0): Buffer {
  const buf = Buffer.alloc(16 + n * rows * cols);
  buf.writeUInt32BE(0x803, 0);
  buf.writeUInt32BE(n, 4);
  buf.writeUInt32BE(rows, 8);
  buf.writeUInt32BE(cols, 12);
  for (let i = 0; i < n; i++) pixels(cols, rows, 1, seedBase + i).copy(buf, 16 + i * rows * cols);
  return buf;
}

export function idxLabels(labels: readonly number[]): Buffer {
  const buf = Buffer.alloc(8 + labels.length);
  buf.writeUInt32BE(0x801, 0);
  buf.writeUInt32BE(labels.length, 4);
  labels.forEach((l, i) => (buf[8 + i] = l));
  return buf;
}

export async function writeIdxPair(
  dir: string,
  prefix: string,
  n: number,
  opts: { gzip?: boolean; seedBase?: number; classes?: number } = {},
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const gz = opts.gzip ?? true;
  const enc = (b: Buffer): Buffer => (gz ? gzipSync(b) : b);
  const labels = Array.from({ length: n }, (_, i) => i % (opts.classes ?? 10));
  await writeFile(path.join(dir, `${prefix}-images-idx3-ubyte${gz ? '.gz' : ''}`), enc(idxImages(n, 4, 4, opts.seedBase ?? 0)));
  await writeFile(path.join(dir, `${prefix}-labels-idx1-ubyte${gz ? '.gz' : ''}`), enc(idxLabels(labels)));
}

export interface ZipEntry {
  readonly name: string;
  readonly data?: string | Buffer;
  /** Stored as a unix symlink whose content is this target. */
  readonly symlink?: string;
}

/** A stored (uncompressed) zip, written by hand so tests can put hostile names in it. */
export function makeZip(entries: readonly ZipEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const data = Buffer.from(e.symlink ?? e.data ?? '');
    const crc = crc32(data);
    const mode = e.symlink !== undefined ? 0o120777 : e.name.endsWith('/') ? 0o040755 : 0o100644;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(name.length, 26);
    locals.push(local, name, data);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += 30 + name.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(entries.length, 8);
  end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

export interface TarEntry {
  readonly path: string;
  readonly type?: 'File' | 'Directory' | 'SymbolicLink' | 'Link' | 'CharacterDevice';
  readonly data?: string | Buffer;
  readonly linkpath?: string;
}

/** A tar (gzipped unless told otherwise), header by header, so tests can put hostile entries in it. */
export function makeTar(entries: readonly TarEntry[], gzip = true): Buffer {
  const blocks: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? '');
    const type = e.type ?? 'File';
    const h = new Header({
      path: e.path,
      type,
      size: type === 'File' ? data.length : 0,
      mode: type === 'Directory' ? 0o755 : 0o644,
      mtime: new Date(0),
      ...(e.linkpath !== undefined ? { linkpath: e.linkpath } : {}),
    });
    const block = Buffer.alloc(512);
    h.encode(block, 0);
    blocks.push(block);
    if (type === 'File' && data.length > 0) {
      const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512);
      data.copy(padded);
      blocks.push(padded);
    }
  }
  blocks.push(Buffer.alloc(1024));
  const tarBuf = Buffer.concat(blocks);
  return gzip ? gzipSync(tarBuf) : tarBuf;
}

/** Every name in a folder tree (relative), for "nothing left behind" checks. */
export async function treeOf(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true });
    return entries.map(String).sort();
  } catch {
    return [];
  }
}
