/** SIGTERM/SIGINT during training: the process stops with a resumable checkpoint and says how to resume. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readCheckpoint, train } from '../../shared/train/index.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { writeSyntheticDataset } from './synthetic.ts';

const child = fileURLToPath(new URL('../fixtures/train/train-child.ts', import.meta.url));
const smallCnn = fileURLToPath(new URL('../fixtures/train/small-cnn.mjs', import.meta.url));

/** Starts the child, sends `signal` once it has logged `after`, resolves with its exit code and stderr. */
function trainAndSignal(args: string[], signal: NodeJS.Signals, after: RegExp): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(process.execPath, [child, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let sent = false;
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (!sent && after.test(stderr)) {
        sent = true;
        proc.kill(signal);
      }
    });
    proc.on('error', reject);
    proc.on('close', (code) => resolve({ code, stderr }));
  });
}

describe('training stopped by a signal', () => {
  let root: string;
  let dataset: string;
  before(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'modelship-signal-'));
    dataset = await writeSyntheticDataset(path.join(root, 'data'), { counts: [400, 40, 10], size: 8 });
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal}: exits with an error naming the checkpoint; the checkpoint is whole and resumable`, async () => {
      const out = path.join(root, `out-${signal}`);
      const { code, stderr } = await trainAndSignal([dataset, out, smallCnn], signal, /epoch 2\/1000/);
      assert.equal(code, 2, stderr);
      assert.match(stderr, new RegExp(`${signal} received: stopping after the current batch`));
      const m =
        /train failed: training stopped by \w+ during epoch (\d+); the last good checkpoint \(after epoch (\d+)\) is in (.+)\.\n {2}Run train again with resume-from: (.+) to continue\./.exec(
          stderr,
        );
      assert.ok(m, stderr);
      assert.equal(Number(m[2]), Number(m[1]) - 1);
      assert.equal(m[3], path.join(out, '.checkpoint'));
      // Only the checkpoint is left: no model, no torn temporary folders.
      assert.deepEqual(await readdir(out), ['.checkpoint']);
      const ck = await readCheckpoint(m[4]);
      assert.equal(ck.state.epoch, Number(m[2]));
      assert.equal(ck.state.history.length, ck.state.epoch);
      const r = await train(
        {
          dataset,
          outputDir: out,
          architecture: smallCnn,
          epochs: ck.state.epoch + 1,
          batchSize: 8,
          learningRate: 0.001,
          seed: 3,
          backend: 'cpu',
          earlyStoppingPatience: 0,
          resumeFrom: m[4],
          handleSignals: false,
        },
        { log: memoryLogger(), cwd: root, now: () => new Date() },
      );
      assert.equal(r.resumedAfterEpoch, ck.state.epoch);
      assert.equal(r.history.length, ck.state.epoch + 1);
      assert.deepEqual((await readdir(out)).sort(), ['history.json', 'model-card.md', 'model.json', 'modelship.json', 'weights.bin']);
    });
  }
});
