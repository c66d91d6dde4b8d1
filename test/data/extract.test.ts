/** Safe archive extraction: good archives unpack; hostile ones are refused and leave nothing. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { archiveKind, checkEntryName, extractArchive } from '../../shared/data/extract.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { makeTar, makeZip, removeTempDirs, tempDir, treeOf } from './helpers.ts';

async function archive(name: string, bytes: Buffer): Promise<{ file: string; dir: string }> {
  const dir = await tempDir('ms-extract-');
  const file = path.join(dir, name);
  await writeFile(file, bytes);
  return { file, dir };
}

describe('archiveKind', () => {
  for (const [name, kind] of [
    ['data.zip', 'zip'],
    ['data.ZIP', 'zip'],
    ['data.tar.gz', 'tar.gz'],
    ['data.tgz', 'tar.gz'],
    ['data.tar', 'tar'],
    ['data.csv', undefined],
    ['train-images-idx3-ubyte.gz', undefined],
  ] as const) {
    it(`${name} → ${kind ?? 'not an archive'}`, () => assert.equal(archiveKind(name), kind));
  }
});

describe('checkEntryName', () => {
  for (const [name, ok] of [
    ['a/b.png', 'a/b.png'],
    ['./a/b.png', 'a/b.png'],
    ['a//b.png', 'a/b.png'],
    ['../evil', undefined],
    ['a/../../evil', undefined],
    ['/etc/passwd', undefined],
    ['C:/Windows/x', undefined],
    ['a\\..\\..\\evil', undefined],
  ] as const) {
    it(`${name} → ${ok ?? 'refused'}`, () => {
      if (ok) assert.equal(checkEntryName('x.zip', name), ok);
      else assert.throws(() => checkEntryName('x.zip', name), ConfigurationError);
    });
  }
});

describe('extractArchive: good archives', () => {
  it('unpacks a zip with folders and files', async () => {
    const { file, dir } = await archive(
      'd.zip',
      makeZip([{ name: 'cats/' }, { name: 'cats/a.txt', data: 'meow' }, { name: 'dogs/b.txt', data: 'woof' }]),
    );
    const dest = path.join(dir, 'out');
    await extractArchive(file, dest);
    assert.deepEqual(await treeOf(dest), ['cats', 'cats/a.txt', 'dogs', 'dogs/b.txt']);
    assert.equal(await readFile(path.join(dest, 'dogs/b.txt'), 'utf8'), 'woof');
  });
  it('unpacks a tar.gz, keeping a hard link that stays inside (a regular file)', async () => {
    const { file, dir } = await archive(
      'd.tar.gz',
      makeTar([
        { path: 'set/', type: 'Directory' },
        { path: 'set/a.txt', data: 'hello' },
        { path: 'set/b.txt', type: 'Link', linkpath: 'set/a.txt' },
      ]),
    );
    const dest = path.join(dir, 'out');
    await extractArchive(file, dest);
    assert.equal(await readFile(path.join(dest, 'set/a.txt'), 'utf8'), 'hello');
    assert.equal(await readFile(path.join(dest, 'set/b.txt'), 'utf8'), 'hello');
  });
});

const hostile: {
  name: string;
  file: string;
  bytes: () => Buffer;
  message: RegExp;
  limits?: { maxBytes: number; maxEntries: number; maxRatio: number };
}[] = [
  {
    name: 'zip with ../ (zip slip)',
    file: 'x.zip',
    bytes: () =>
      makeZip([
        { name: 'ok.txt', data: '1' },
        { name: '../evil.txt', data: 'x' },
      ]),
    message: /climbs out/,
  },
  {
    name: 'zip with an absolute path',
    file: 'x.zip',
    bytes: () => makeZip([{ name: '/tmp/evil.txt', data: 'x' }]),
    message: /absolute path/,
  },
  {
    name: 'zip with a symlink leaving',
    file: 'x.zip',
    bytes: () =>
      makeZip([
        { name: 'a/ok.txt', data: '1' },
        { name: 'a/link', symlink: '../../etc/passwd' },
      ]),
    message: /has a symbolic link 'a\/link'; setup-data reads regular files only/,
  },
  {
    name: 'zip with an absolute symlink',
    file: 'x.zip',
    bytes: () => makeZip([{ name: 'link', symlink: '/etc/passwd' }]),
    message: /has a symbolic link 'link'/,
  },
  {
    name: 'zip with too many entries',
    file: 'x.zip',
    bytes: () => makeZip(Array.from({ length: 6 }, (_, i) => ({ name: `f${i}.txt`, data: 'x' }))),
    message: /more than 5 entries/,
    limits: { maxBytes: 1e9, maxEntries: 5, maxRatio: 100 },
  },
  {
    name: 'zip expanding past the size limit',
    file: 'x.zip',
    bytes: () => makeZip([{ name: 'big.bin', data: Buffer.alloc(2000) }]),
    message: /expands to more than/,
    limits: { maxBytes: 1000, maxEntries: 10, maxRatio: 100 },
  },
  {
    name: 'zip with links that each look inside but chain out, and a file through them',
    file: 'x.zip',
    bytes: () =>
      makeZip([
        { name: 'a', symlink: '.' },
        { name: 'b', symlink: 'a/..' },
        { name: 'b/evil.txt', data: 'x' },
      ]),
    message: /has a symbolic link 'a'/,
  },
  {
    name: 'zip with links that each look inside but chain out',
    file: 'x.zip',
    bytes: () =>
      makeZip([
        { name: 'a', symlink: '.' },
        { name: 'b', symlink: 'a/..' },
      ]),
    message: /has a symbolic link 'a'/,
  },
  {
    name: 'tar with links that chain out, and a file through them',
    file: 'x.tar.gz',
    bytes: () =>
      makeTar([
        { path: 'a', type: 'SymbolicLink', linkpath: '.' },
        { path: 'b', type: 'SymbolicLink', linkpath: 'a/..' },
        { path: 'b/evil.txt', data: 'x' },
      ]),
    message: /has a symbolic link 'a' \(to '\.'\)/,
  },
  {
    name: 'tar with links that chain out',
    file: 'x.tar.gz',
    bytes: () =>
      makeTar([
        { path: 'a', type: 'SymbolicLink', linkpath: '.' },
        { path: 'b', type: 'SymbolicLink', linkpath: 'a/..' },
      ]),
    message: /has a symbolic link 'a'/,
  },
  {
    name: 'tar with ../',
    file: 'x.tar.gz',
    bytes: () =>
      makeTar([
        { path: 'ok.txt', data: '1' },
        { path: '../evil.txt', data: 'x' },
      ]),
    message: /climbs out/,
  },
  {
    name: 'tar with an absolute path',
    file: 'x.tgz',
    bytes: () => makeTar([{ path: '/tmp/evil.txt', data: 'x' }]),
    message: /absolute path/,
  },
  {
    name: 'tar with a symlink leaving',
    file: 'x.tar.gz',
    bytes: () => makeTar([{ path: 'a/link', type: 'SymbolicLink', linkpath: '../../outside' }]),
    message: /has a symbolic link 'a\/link' \(to '\.\.\/\.\.\/outside'\)/,
  },
  {
    name: 'tar with a hardlink leaving',
    file: 'x.tar',
    bytes: () => makeTar([{ path: 'hard', type: 'Link', linkpath: '../outside' }], false),
    message: /outside the archive/,
  },
  {
    name: 'tar with a device file',
    file: 'x.tar.gz',
    bytes: () => makeTar([{ path: 'dev', type: 'CharacterDevice' }]),
    message: /CharacterDevice/,
  },
  {
    name: 'tar with too many entries',
    file: 'x.tar.gz',
    bytes: () => makeTar(Array.from({ length: 4 }, (_, i) => ({ path: `f${i}`, data: 'x' }))),
    message: /more than 3 entries/,
    limits: { maxBytes: 1e9, maxEntries: 3, maxRatio: 100 },
  },
  {
    name: 'tar expanding past the size limit',
    file: 'x.tar.gz',
    bytes: () => makeTar([{ path: 'big', data: Buffer.alloc(4096) }]),
    message: /expands to more than/,
    limits: { maxBytes: 1024, maxEntries: 10, maxRatio: 100 },
  },
  {
    name: 'a truncated tar.gz',
    file: 'x.tar.gz',
    bytes: () => makeTar([{ path: 'a', data: Buffer.alloc(5000, 7) }]).subarray(0, 40),
    message: /cannot be read/,
  },
  { name: 'a file that is not a zip', file: 'x.zip', bytes: () => Buffer.from('this is not a zip file at all'), message: /cannot be read/ },
];

describe('extractArchive: hostile or broken archives are refused and leave nothing', () => {
  for (const h of hostile) {
    it(h.name, async () => {
      const { file, dir } = await archive(h.file, h.bytes());
      const dest = path.join(dir, 'out');
      await assert.rejects(extractArchive(file, dest, h.limits), (err: unknown) => {
        assert.ok(err instanceof ConfigurationError, `expected a ConfigurationError, got ${String(err)}`);
        assert.match(err.message, h.message);
        assert.match(err.message, new RegExp(`archive '${h.file.replace('.', '\\.')}'`));
        return true;
      });
      // Nothing extracted, no temporary sibling left, nothing written next to the folder.
      assert.deepEqual(await treeOf(dir), [h.file]);
    });
  }
});

after(removeTempDirs);
