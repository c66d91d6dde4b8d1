/**
 * The Kubernetes target against a real cluster: run by .github/workflows/kind-e2e.yml on a kind
 * cluster with the modelship image loaded and a shared folder mounted into the node at the same
 * path. Not part of `npm test` (no cluster runs on the development machines, where the simulator
 * stands in): `node --test test/k8s/kind.e2e.ts` with
 *   MODELSHIP_E2E_IMAGE   the image loaded into the cluster (e.g. modelship:e2e)
 *   MODELSHIP_E2E_SHARED  the folder shared between the runner and the node (e.g. /tmp/modelship-shared)
 * and a kubeconfig (KUBECONFIG or ~/.kube/config, as kind writes it).
 */
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { testContext } from '../helpers/context.ts';
import { trainOnKubernetes, type KubernetesSettings } from '../../shared/train/index.ts';
import { ModelshipError } from '../../shared/util/errors.ts';
import { memoryLogger } from '../../shared/util/log.ts';
import { writeSyntheticDataset } from '../train/synthetic.ts';

const image = process.env['MODELSHIP_E2E_IMAGE'];
const shared = process.env['MODELSHIP_E2E_SHARED'];
if (!image || !shared) throw new Error('kind.e2e.ts needs MODELSHIP_E2E_IMAGE and MODELSHIP_E2E_SHARED (see the comment at the top).');

describe('target kubernetes on a kind cluster', () => {
  let work: string;
  let dataset: string;
  before(async () => {
    work = await mkdtemp(path.join(shared, 'run-'));
    dataset = await writeSyntheticDataset(path.join(work, 'data'), { kind: 'tabular', counts: [300, 100, 100], size: 8 });
  });

  const train = (log: ReturnType<typeof memoryLogger>, over: Partial<KubernetesSettings> = {}, datasetDir = dataset) => {
    const ctx = testContext({ cwd: work, env: process.env, log });
    return trainOnKubernetes(
      {
        dataset: datasetDir,
        architecture: 'mlp',
        epochs: 2,
        batchSize: 32,
        learningRate: 0.01,
        seed: 1,
        backend: 'auto',
        earlyStoppingPatience: 0,
        outputDir: path.join(work, `model-${Date.now()}`),
        name: 'e2e',
        handleSignals: false,
        kubernetes: { image, volume: `host:${shared}`, cpu: '1', memory: '1Gi', timeoutSeconds: 600, pendingTimeoutSeconds: 120, ...over },
      },
      ctx,
    );
  };

  it('trains in a Job, streams the log, and reads the model back from the shared folder', async () => {
    const log = memoryLogger();
    const result = await train(log);
    assert.equal(result.history.length, 2);
    assert.equal(result.trainCount, 300);
    assert.ok(['node', 'wasm', 'cpu'].includes(result.backend));
    assert.ok(
      log.lines.some((l) => l.startsWith('epoch 2/2')),
      log.lines.join('\n'),
    );
  });

  it('fails with ImagePullBackOff for an image that does not exist', async () => {
    await assert.rejects(train(memoryLogger(), { image: 'modelship-e2e/does-not-exist:0' }), (err: unknown) => {
      assert.ok(err instanceof ModelshipError);
      assert.match(err.message, /cannot pull image "modelship-e2e\/does-not-exist:0" \(ImagePullBackOff\)/);
      return true;
    });
  });

  it('fails with OOMKilled when the memory limit is far too small', async () => {
    await assert.rejects(train(memoryLogger(), { memory: '32Mi' }), /container trainer OOMKilled \(exit 137\)/);
  });

  it("fails with the CLI's exit code when the data set is missing", async () => {
    await assert.rejects(train(memoryLogger(), {}, path.join(work, 'missing')), /container trainer exited with code [12]/);
  });
});
