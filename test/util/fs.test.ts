/** The shared safe reader of folders: regular files inside the folder only. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConfigurationError } from '../../shared/util/errors.ts';
import { folder, listInside, openRegularFile, readTextInside, sha256, sha256Inside, statInside } from '../../shared/util/fs.ts';

let root: string;
let outside: string;
before(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'ms-fs-'));
  outside = await mkdtemp(path.join(tmpdir(), 'ms-fs-outside-'));
  await writeFile(path.join(outside, 'secret'), 'secret');
  await mkdir(path.join(root, 'sub'));
  await writeFile(path.join(root, 'sub', 'ok.txt'), 'ok');
  await symlink(path.join(outside, 'secret'), path.join(root, 'link.txt'));
  await symlink(outside, path.join(root, 'dirlink'));
  execFileSync('mkfifo', [path.join(root, 'pipe')]);
});
after(async () => {
  await rm(root, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

const refusal = (what: RegExp) => (e: unknown) =>
  e instanceof ConfigurationError && what.test(e.message) && /only regular files inside the folder are read/.test(e.message);

describe('the safe folder reader', () => {
  const f = (): ReturnType<typeof folder> => folder(root, 'model folder', 'm');
  it('reads regular files inside the folder', async () => {
    assert.equal(await readTextInside(f(), 'sub/ok.txt'), 'ok');
    assert.equal((await sha256Inside(f(), 'sub/ok.txt')).hex, sha256('ok'));
    assert.equal(await statInside(f(), 'missing.txt'), undefined);
    await assert.rejects(readTextInside(f(), 'missing.txt'), { code: 'ENOENT' });
  });
  it('refuses a link, naming it and its target, with the fix', async () => {
    await assert.rejects(readTextInside(f(), 'link.txt'), (e: unknown) => {
      assert.ok(refusal(/^model folder 'm' has 'link\.txt', a symbolic link \(to .*secret\)/)(e));
      assert.match((e as ConfigurationError).hint ?? '', /^Replace m\/link\.txt with the file itself/);
      return true;
    });
  });
  it('refuses a folder on the way that is a link', async () => {
    await assert.rejects(readTextInside(f(), 'dirlink/secret'), refusal(/has 'dirlink', a symbolic link/));
  });
  it('refuses a FIFO without blocking on it, and a path leaving the folder', async () => {
    await assert.rejects(readTextInside(f(), 'pipe'), refusal(/has 'pipe', a named pipe \(FIFO\)/));
    await assert.rejects(readTextInside(f(), '../x'), /is not a path inside the folder/);
  });
  it('refuses devices and sockets opened by path', async () => {
    await assert.rejects(openRegularFile('/dev/null'), /'\/dev\/null' is a character device; only regular files are read/);
    const sock = path.join(root, 'sock');
    const server = createServer();
    await new Promise<void>((r) => server.listen(sock, r));
    try {
      await assert.rejects(statInside(f(), 'sock'), refusal(/has 'sock', a socket/));
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
  it('a listing refuses the first entry that is not a regular file or folder', async () => {
    await assert.rejects(listInside(f()), refusal(/has '(dirlink|link\.txt|pipe)'/));
    const listed = await listInside(f(), { skip: (n) => ['link.txt', 'dirlink', 'pipe'].includes(n) });
    assert.deepEqual(listed, { files: ['sub/ok.txt'], dirs: ['sub'] });
  });
});
