/** The same model is one version, whatever report or run comes with it (found by its files digest). */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { openRegistry } from '../../shared/registry/index.ts';
import { silentLogger } from '../../shared/util/index.ts';
import { makeModelDir, tempDir, variantOf } from './helpers.ts';

let dir: string;
before(async () => {
  dir = await tempDir();
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

it('registers a model once: a new report or run finds the version that holds it; another model is a new version', async () => {
  const reg = await openRegistry(path.join(dir, 'reg'), { log: silentLogger, cwd: dir });
  const model = await makeModelDir(path.join(dir, 'm1'), 1);
  const report = (acc: number): Promise<string> =>
    writeFile(path.join(dir, `r${acc}.json`), JSON.stringify({ metrics: { accuracy: acc }, passed: true })).then(() =>
      path.join(dir, `r${acc}.json`),
    );
  const first = await reg.push(model, {
    name: 'fashion',
    report: await report(0.8),
    provenance: { serverUrl: 'https://github.com', runId: '1' },
  });
  const again = await reg.push(model, {
    name: 'fashion',
    report: await report(0.81),
    provenance: { serverUrl: 'https://github.com', runId: '2' },
  });
  assert.deepEqual([first.version, first.created], [1, true]);
  assert.deepEqual([again.version, again.created, again.digest], [1, false, first.digest]);
  const other = await reg.push(await variantOf(model, path.join(dir, 'm2'), 2), { name: 'fashion' });
  assert.deepEqual([other.version, other.created], [2, true]);
  assert.deepEqual(
    (await reg.list('fashion')).map((v) => v.version),
    [1, 2],
    'the model tags are not versions',
  );
});
