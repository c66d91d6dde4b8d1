/**
 * Defect 4: archive bombs are refused as soon as a limit is crossed (the expansion ratio, the
 * expanded size, the entry count, the download size), each limit an input named in the error, and
 * a refused attempt removes everything it wrote: extractions, downloads, the folders made for them.
 * The bombs are generated here, small and fast.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { constants, createDeflateRaw, createGzip, crc32 } from 'node:zlib';
import { Header } from 'tar';
import { parseInputs } from '../../shared/config/inputs.ts';
import { DEFAULT_DATA_LIMITS } from '../../shared/data/limits.ts';
import { setupDataStep } from '../../shared/steps/setup-data.ts';
import { makeTar, makeZip } from '../data/helpers.ts';
import { cli, removeTempDirs, snapshot, tempDir } from './helpers.ts';

const MiB = 2 ** 20;

/** Streams `bytes` zero bytes through a compressor; returns the compressed bytes and their crc32. */
async function compressZeros(
  z: ReturnType<typeof createDeflateRaw>,
  bytes: number,
  head?: Buffer,
  tail?: Buffer,
): Promise<{ data: Buffer; crc: number }> {
  const out: Buffer[] = [];
  z.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((r) => z.on('end', r));
  const chunk = Buffer.alloc(MiB);
  let crc = 0;
  if (head) z.write(head);
  for (let left = bytes; left > 0; left -= chunk.length) {
    const c = left >= chunk.length ? chunk : chunk.subarray(0, left);
    crc = crc32(c, crc);
    z.write(c);
  }
  if (tail) z.write(tail);
  z.end();
  await done;
  return { data: Buffer.concat(out), crc };
}

/** A zip of one deflated entry of `expanded` zeros; `declared` overrides the sizes its headers state. */
async function zipBomb(expanded: number, declared = expanded): Promise<Buffer> {
  const { data, crc } = await compressZeros(createDeflateRaw({ level: constants.Z_BEST_COMPRESSION }), expanded);
  const name = Buffer.from('zeros.bin');
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt16LE(8, 8); // deflate
  local.writeUInt32LE(crc >>> 0, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(declared, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE((3 << 8) | 20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt16LE(8, 10);
  central.writeUInt32LE(crc >>> 0, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(declared, 24);
  central.writeUInt16LE(name.length, 28);
  central.writeUInt32LE((0o100644 << 16) >>> 0, 38);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(46 + name.length, 12);
  end.writeUInt32LE(30 + name.length + data.length, 16);
  return Buffer.concat([local, name, data, central, name, end]);
}

/** A tar.gz of one file of `expanded` zeros. */
async function tarBomb(expanded: number): Promise<Buffer> {
  const header = Buffer.alloc(512);
  new Header({ path: 'zeros.bin', type: 'File', size: expanded, mode: 0o644, mtime: new Date(0) }).encode(header, 0);
  return (
    await compressZeros(
      createGzip({ level: constants.Z_BEST_COMPRESSION }) as unknown as ReturnType<typeof createDeflateRaw>,
      expanded,
      header,
      Buffer.alloc(1024),
    )
  ).data;
}

/** A zip of `n` empty stored files, written straight into one buffer (200,000 entries in ~0.1 s). */
function manyEntries(n: number): Buffer {
  const names = Array.from({ length: n }, (_, i) => Buffer.from(`f/${i}`));
  const nameBytes = names.reduce((a, b) => a + b.length, 0);
  const localSize = 30 * n + nameBytes;
  const buf = Buffer.alloc(localSize + 46 * n + nameBytes + 22);
  let at = 0;
  const offsets: number[] = [];
  for (const name of names) {
    offsets.push(at);
    buf.writeUInt32LE(0x04034b50, at);
    buf.writeUInt16LE(20, at + 4);
    buf.writeUInt16LE(name.length, at + 26);
    name.copy(buf, at + 30);
    at += 30 + name.length;
  }
  names.forEach((name, i) => {
    buf.writeUInt32LE(0x02014b50, at);
    buf.writeUInt16LE((3 << 8) | 20, at + 4);
    buf.writeUInt16LE(20, at + 6);
    buf.writeUInt16LE(name.length, at + 28);
    buf.writeUInt32LE((0o100644 << 16) >>> 0, at + 38);
    buf.writeUInt32LE(offsets[i], at + 42);
    name.copy(buf, at + 46);
    at += 46 + name.length;
  });
  buf.writeUInt32LE(0x06054b50, at);
  buf.writeUInt16LE(n & 0xffff, at + 8);
  buf.writeUInt16LE(n & 0xffff, at + 10);
  buf.writeUInt32LE(46 * n + nameBytes, at + 12);
  buf.writeUInt32LE(localSize, at + 16);
  // More than 65,535 entries: the count is in a zip64 end record; yauzl reads 0xffff as "look there".
  return n > 0xffff ? zip64(buf, n, localSize, 46 * n + nameBytes) : buf;
}

/** Adds the zip64 end-of-central-directory record and locator that carry an entry count above 65,535. */
function zip64(buf: Buffer, n: number, cdOffset: number, cdSize: number): Buffer {
  const end = buf.subarray(buf.length - 22);
  end.writeUInt16LE(0xffff, 8);
  end.writeUInt16LE(0xffff, 10);
  end.writeUInt32LE(0xffffffff, 12);
  end.writeUInt32LE(0xffffffff, 16);
  const rec = Buffer.alloc(56);
  rec.writeUInt32LE(0x06064b50, 0);
  rec.writeBigUInt64LE(44n, 4);
  rec.writeUInt16LE(45, 12);
  rec.writeUInt16LE(45, 14);
  rec.writeBigUInt64LE(BigInt(n), 24);
  rec.writeBigUInt64LE(BigInt(n), 32);
  rec.writeBigUInt64LE(BigInt(cdSize), 40);
  rec.writeBigUInt64LE(BigInt(cdOffset), 48);
  const loc = Buffer.alloc(20);
  loc.writeUInt32LE(0x07064b50, 0);
  loc.writeBigUInt64LE(BigInt(cdOffset + cdSize), 8);
  loc.writeUInt32LE(1, 16);
  return Buffer.concat([buf.subarray(0, buf.length - 22), rec, loc, end]);
}

let server: Server;
let base: string;
before(async () => {
  server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/declared.csv') {
      res.writeHead(200, { 'content-length': String(4096) }).end(Buffer.alloc(4096, 0x31));
    } else if (url.pathname === '/streamed.csv') {
      res.writeHead(200, { 'transfer-encoding': 'chunked' });
      for (let i = 0; i < 8; i++) res.write(Buffer.alloc(512, 0x31));
      res.end();
    } else res.writeHead(404).end();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  await removeTempDirs();
});

/** Runs setup-data on `bytes` saved as `name`; asserts the refusal and that the tree is as it was. */
async function refused(name: string, bytes: Buffer, extra: string[], message: RegExp, input: string): Promise<string> {
  const cwd = await tempDir();
  await writeFile(path.join(cwd, name), bytes);
  const tree = await snapshot(cwd);
  const r = await cli(['setup-data', '--source', name, '--output-dir', '.modelship/data', ...extra], cwd);
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, message);
  assert.match(r.err, new RegExp(`input '${input}'`));
  assert.match(r.err, new RegExp(`raise ${input} \\(e\\.g\\. ${input}: `));
  assert.deepEqual(await snapshot(cwd), tree, 'nothing left behind: no .modelship, no .modelship-work');
  return r.err;
}

describe('defect 4: archive bombs and cleanup', () => {
  it('the limits default to values a real data set fits in, and the step says so', () => {
    const i = parseInputs(setupDataStep.inputs, {});
    assert.deepEqual(
      {
        maxDownloadSize: i.maxDownloadSize,
        maxExpandedSize: i.maxExpandedSize,
        maxEntries: i.maxEntries,
        maxExpansionRatio: i.maxExpansionRatio,
        memoryBudget: i.memoryBudget,
      },
      DEFAULT_DATA_LIMITS,
    );
  });

  it('a zip that expands 1000 times (128 MiB of zeros) is refused by its ratio before anything is inflated', async () => {
    await refused(
      'bomb.zip',
      await zipBomb(128 * MiB),
      [],
      /archive 'bomb\.zip' expands past 64 MiB, more than 100 times its own \d+(\.\d)? KiB/,
      'max-expansion-ratio',
    );
  });

  it('a small zip declaring 1 GiB, with the ratio raised, is refused by the expanded size before it is inflated', async () => {
    const err = await refused(
      'big.zip',
      await zipBomb(MiB, 2 ** 30),
      ['--max-expansion-ratio', '100000', '--max-expanded-size', '512MiB'],
      /archive 'big\.zip' expands to more than 512 MiB/,
      'max-expanded-size',
    );
    assert.match(err, /otherwise the archive is not what it claims to be/);
  });

  it('a tar.gz bomb is stopped while it streams, at the ratio limit', async () => {
    await refused('bomb.tar.gz', await tarBomb(128 * MiB), [], /archive 'bomb\.tar\.gz' expands past 64 MiB/, 'max-expansion-ratio');
  });

  it('a zip of 200,000 entries is refused from its entry count, before any entry is read', async () => {
    await refused('many.zip', manyEntries(200_000), [], /archive 'many\.zip' has more than 100,000 entries/, 'max-entries');
  });

  it('a tar.gz crossing max-entries is refused at the first entry past it', async () => {
    const tar = makeTar(Array.from({ length: 12 }, (_, i) => ({ path: `f/${i}.csv`, data: 'x,label\n1,a\n' })));
    await refused('set.tar.gz', tar, ['--max-entries', '10'], /archive 'set\.tar\.gz' has more than 10 entries/, 'max-entries');
  });

  it('an archive refused by the reader after extraction leaves no extraction behind', async () => {
    const cwd = await tempDir();
    await writeFile(path.join(cwd, 'notes.zip'), makeZip([{ name: 'notes/readme.txt', data: 'hello' }]));
    const tree = await snapshot(cwd);
    const r = await cli(['setup-data', '--source', 'notes.zip', '--output-dir', 'out'], cwd);
    assert.equal(r.code, 2, r.err);
    assert.match(r.err, /holds nothing modelship can read/);
    assert.deepEqual(await snapshot(cwd), tree, 'the extraction in .modelship-work/extracted is removed');
  });

  it('downloads larger than max-download-size are stopped (declared or streamed) and removed', async () => {
    for (const file of ['declared.csv', 'streamed.csv']) {
      const cwd = await tempDir();
      const tree = await snapshot(cwd);
      const r = await cli(['setup-data', '--source', `${base}/${file}`, '--output-dir', 'out', '--max-download-size', '1KiB'], cwd);
      assert.equal(r.code, 2, r.err);
      assert.match(
        r.err,
        new RegExp(`${file.replace('.', '\\.')} is larger than 1 KiB \\(input 'max-download-size'\\); the download was stopped there`),
      );
      assert.match(r.err, /raise max-download-size \(e\.g\. max-download-size: 2KiB\)/);
      assert.deepEqual(await snapshot(cwd), tree, 'no download, no work folder');
    }
  });
});
