import assert from 'node:assert/strict';
import { test } from 'node:test';
import { explainPodFailure, jobState, type PodLike } from '../../shared/k8s/index.ts';

const pod = (status: PodLike['status']): PodLike => ({
  metadata: { name: 'p' },
  spec: { containers: [{ name: 'trainer', image: 'img:1' }] },
  status,
});
const waiting = (reason: string, message?: string): PodLike['status'] => ({
  phase: 'Pending',
  containerStatuses: [
    { name: 'trainer', image: 'img:1', restartCount: 0, state: { waiting: { reason, ...(message ? { message } : {}) } } },
  ],
});
const terminated = (exitCode: number, reason?: string, restartCount = 0): PodLike['status'] => ({
  phase: 'Failed',
  containerStatuses: [{ name: 'trainer', restartCount, state: { terminated: { exitCode, ...(reason ? { reason } : {}) } } }],
});

const cases: [string, PodLike, { kind: string; summary: string; terminal: boolean } | undefined][] = [
  ['running pod', pod({ phase: 'Running', containerStatuses: [{ name: 'trainer', state: { running: {} } }] }), undefined],
  ['still creating', pod(waiting('ContainerCreating')), undefined],
  [
    'succeeded',
    pod({ phase: 'Succeeded', containerStatuses: [{ name: 'trainer', state: { terminated: { exitCode: 0, reason: 'Completed' } } }] }),
    undefined,
  ],
  [
    'OOMKilled',
    pod(terminated(137, 'OOMKilled')),
    { kind: 'OOMKilled', summary: 'container trainer OOMKilled (exit 137)', terminal: true },
  ],
  ['exit 2', pod(terminated(2, 'Error')), { kind: 'ExitCode', summary: 'container trainer exited with code 2', terminal: true }],
  [
    'exit with other reason',
    pod(terminated(1, 'ContainerCannotRun')),
    { kind: 'ExitCode', summary: 'container trainer exited with code 1 (ContainerCannotRun)', terminal: true },
  ],
  [
    'ErrImagePull (may recover)',
    pod(waiting('ErrImagePull')),
    { kind: 'ImagePull', summary: 'container trainer cannot pull image "img:1" (ErrImagePull)', terminal: false },
  ],
  [
    'ImagePullBackOff',
    pod(waiting('ImagePullBackOff', 'Back-off pulling image "img:1"')),
    { kind: 'ImagePull', summary: 'container trainer cannot pull image "img:1" (ImagePullBackOff)', terminal: true },
  ],
  [
    'InvalidImageName',
    pod(waiting('InvalidImageName')),
    { kind: 'ImagePull', summary: 'container trainer cannot pull image "img:1" (InvalidImageName)', terminal: true },
  ],
  [
    'CreateContainerConfigError',
    pod(waiting('CreateContainerConfigError', 'secret "x" not found')),
    { kind: 'ContainerConfig', summary: 'container trainer cannot start (CreateContainerConfigError)', terminal: true },
  ],
  [
    'CrashLoopBackOff',
    pod({
      phase: 'Running',
      containerStatuses: [
        {
          name: 'trainer',
          restartCount: 3,
          state: { waiting: { reason: 'CrashLoopBackOff' } },
          lastState: { terminated: { exitCode: 1, reason: 'Error' } },
        },
      ],
    }),
    {
      kind: 'CrashLoopBackOff',
      summary: 'container trainer keeps crashing (CrashLoopBackOff, last exit 1, restarted 3 times)',
      terminal: true,
    },
  ],
  [
    'Unschedulable',
    pod({
      phase: 'Pending',
      conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available' }],
    }),
    { kind: 'Unschedulable', summary: 'pod cannot be scheduled', terminal: false },
  ],
  [
    'Evicted',
    pod({ phase: 'Failed', reason: 'Evicted', message: 'The node was low on resource: memory.' }),
    { kind: 'Evicted', summary: 'pod was evicted', terminal: true },
  ],
];

for (const [name, input, want] of cases) {
  test(`explainPodFailure: ${name}`, () => {
    const got = explainPodFailure(input);
    if (want === undefined) assert.equal(got, undefined);
    else {
      assert.ok(got, 'a problem');
      assert.deepEqual({ kind: got.kind, summary: got.summary, terminal: got.terminal }, want);
    }
  });
}

test('explainPodFailure keeps Kubernetes message as the detail', () => {
  assert.equal(explainPodFailure(pod(waiting('CreateContainerConfigError', 'secret "x" not found')))?.detail, 'secret "x" not found');
});

test('jobState reads the Complete and Failed conditions only when True', () => {
  assert.deepEqual(jobState({ status: { active: 1 } }), { state: 'active' });
  assert.deepEqual(jobState({ status: { conditions: [{ type: 'Complete', status: 'False' }] } }), { state: 'active' });
  assert.deepEqual(
    jobState({
      status: {
        conditions: [
          { type: 'SuccessCriteriaMet', status: 'True' },
          { type: 'Complete', status: 'True' },
        ],
      },
    }),
    { state: 'complete' },
  );
  assert.deepEqual(
    jobState({
      status: {
        conditions: [
          { type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' },
        ],
      },
    }),
    {
      state: 'failed',
      reason: 'BackoffLimitExceeded',
      message: 'Job has reached the specified backoff limit',
    },
  );
});
