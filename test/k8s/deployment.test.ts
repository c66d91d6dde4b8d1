/** kubectl rollout status's decision, row by row (pure). */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploymentProgress, type DeploymentLike } from '../../shared/k8s/deployment.ts';

const d = (generation: number, replicas: number, status: NonNullable<DeploymentLike['status']>): DeploymentLike => ({
  metadata: { name: 'fashion', generation },
  spec: { replicas },
  status,
});

describe('deploymentProgress', () => {
  const rows: [string, DeploymentLike, string, RegExp][] = [
    [
      'the new spec is not observed yet',
      d(3, 2, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
      'waiting',
      /spec update to be observed/,
    ],
    [
      'stale success is not success: observed lags',
      d(2, 2, { observedGeneration: 1, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
      'waiting',
      /observed/,
    ],
    [
      'the progress deadline passed',
      d(2, 2, {
        observedGeneration: 2,
        replicas: 3,
        updatedReplicas: 1,
        conditions: [
          {
            type: 'Progressing',
            status: 'False',
            reason: 'ProgressDeadlineExceeded',
            message: 'ReplicaSet "fashion-6d" has timed out progressing.',
          },
        ],
      }),
      'failed',
      /exceeded its progress deadline: ReplicaSet/,
    ],
    [
      'not every replica updated',
      d(2, 3, { observedGeneration: 2, replicas: 4, updatedReplicas: 1, availableReplicas: 3 }),
      'waiting',
      /1 of 3 new replicas updated/,
    ],
    [
      'old replicas still terminating',
      d(2, 2, { observedGeneration: 2, replicas: 3, updatedReplicas: 2, availableReplicas: 2 }),
      'waiting',
      /1 old replicas pending termination/,
    ],
    [
      'updated replicas not all available',
      d(2, 2, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 1 }),
      'waiting',
      /1 of 2 updated replicas available/,
    ],
    [
      'done',
      d(2, 2, { observedGeneration: 2, replicas: 2, updatedReplicas: 2, availableReplicas: 2 }),
      'complete',
      /successfully rolled out/,
    ],
    ['scaled to zero and observed is done', d(4, 0, { observedGeneration: 4 }), 'complete', /successfully/],
    ['no status yet', { metadata: { name: 'fashion', generation: 1 }, spec: { replicas: 1 } }, 'waiting', /observed/],
  ];
  for (const [what, dep, state, message] of rows) {
    it(what, () => {
      const p = deploymentProgress(dep);
      assert.equal(p.state, state);
      assert.match(p.message, message);
    });
  }
});
