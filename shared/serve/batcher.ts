/**
 * Dynamic batching with TF Serving's knobs and their meaning:
 * - `maxBatchSize` (max_batch_size): examples per model call at most. A request larger than the
 *   room left is split across batches (TF Serving's large-batch splitting), and its rows joined back.
 * - `batchTimeoutMicros` (batch_timeout_micros): a batch that is not full runs at most this long
 *   after its first request arrived. With 0 a batch runs as soon as the model is free, and batches
 *   grow only while the model is busy with the previous one.
 * - `maxEnqueuedBatches` (max_enqueued_batches): batches waiting per model version, the open one
 *   included. A request that would need more is refused at once (503), never queued without bound.
 *
 * One queue per model version (batches never mix versions); one scheduler per server hands the
 * oldest runnable batch of any version to the runner, at most `maxInFlight` batches at a time.
 */
import type { InputArray } from './tensors.ts';

export interface BatchingOptions {
  readonly maxBatchSize: number;
  readonly batchTimeoutMicros: number;
  readonly maxEnqueuedBatches: number;
}

export interface Task {
  readonly x: InputArray;
  readonly count: number;
  readonly enqueuedAt: number;
  /** Rows of output per example. */
  readonly outputs: number;
  readonly resolve: (out: Float32Array) => void;
  readonly reject: (err: Error) => void;
}

export interface Part {
  readonly task: Task;
  /** First example of the task in this part. */
  readonly start: number;
  readonly count: number;
}

export interface Batch {
  readonly parts: Part[];
  size: number;
  readonly openedAt: number;
}

/** Tracks a task's parts until every one has its rows. */
interface TaskState {
  out: Float32Array;
  remaining: number;
  failed: boolean;
}

export class BatchQueue {
  readonly batches: Batch[] = [];
  private readonly opts: BatchingOptions;
  private readonly states = new WeakMap<Task, TaskState>();
  private queuedTasks = 0;

  constructor(opts: BatchingOptions) {
    this.opts = opts;
  }

  /** Adds a task, split over batches as needed; false (and nothing queued) when the queue is full. */
  offer(task: Task, now: number): boolean {
    const max = this.opts.maxBatchSize;
    const open = this.batches[this.batches.length - 1];
    const room = open ? max - open.size : 0;
    const newBatches = Math.ceil(Math.max(0, task.count - room) / max);
    if (this.batches.length + newBatches > this.opts.maxEnqueuedBatches) return false;
    let start = 0;
    let parts = 0;
    if (open && room > 0) {
      const n = Math.min(room, task.count);
      open.parts.push({ task, start, count: n });
      open.size += n;
      start += n;
      parts++;
    }
    while (start < task.count) {
      const n = Math.min(max, task.count - start);
      this.batches.push({ parts: [{ task, start, count: n }], size: n, openedAt: now });
      start += n;
      parts++;
    }
    this.states.set(task, { out: new Float32Array(task.count * task.outputs), remaining: parts, failed: false });
    this.queuedTasks++;
    return true;
  }

  private runnable(b: Batch, now: number): boolean {
    return b.size >= this.opts.maxBatchSize || this.batches.length > 1 || now - b.openedAt >= this.opts.batchTimeoutMicros / 1000;
  }

  /** The oldest batch's opening time when it may run now, else undefined. */
  readyAt(now: number): number | undefined {
    const b = this.batches[0];
    return b && this.runnable(b, now) ? b.openedAt : undefined;
  }

  /** When the oldest batch times out (a performance.now() time), if it is waiting for that. */
  deadline(): number | undefined {
    const b = this.batches[0];
    return b ? b.openedAt + this.opts.batchTimeoutMicros / 1000 : undefined;
  }

  /** Removes and returns the oldest batch if it may run now. */
  take(now: number): Batch | undefined {
    const b = this.batches[0];
    if (!b || !this.runnable(b, now)) return undefined;
    this.batches.shift();
    for (const p of b.parts) if (p.start + p.count === p.task.count) this.queuedTasks--;
    return b;
  }

  /** Tasks with at least one part still waiting. */
  depth(): number {
    return this.queuedTasks;
  }

  /** Hands each part its rows of `out` (the batch's output, size × outputs); resolves finished tasks. */
  complete(b: Batch, out: Float32Array): void {
    let offset = 0;
    for (const p of b.parts) {
      const k = p.task.outputs;
      const st = this.states.get(p.task);
      if (st && !st.failed) {
        st.out.set(out.subarray(offset * k, (offset + p.count) * k), p.start * k);
        if (--st.remaining === 0) p.task.resolve(st.out);
      }
      offset += p.count;
    }
  }

  /** Fails every task with a part in the batch (each once). */
  fail(b: Batch, err: Error): void {
    for (const p of b.parts) {
      const st = this.states.get(p.task);
      if (st && !st.failed) {
        st.failed = true;
        p.task.reject(err);
      }
    }
  }

  /** Fails and drops everything queued (the server is stopping, or the runner died). */
  failAll(err: Error): void {
    for (const b of this.batches.splice(0)) this.fail(b, err);
    this.queuedTasks = 0;
  }
}

/** Copies the parts' examples into one array for the model call. */
export function assemble(b: Batch, perExample: number): InputArray {
  const first = b.parts[0].task.x;
  const x = first instanceof Uint8Array ? new Uint8Array(b.size * perExample) : new Float32Array(b.size * perExample);
  let offset = 0;
  for (const p of b.parts) {
    x.set(p.task.x.subarray(p.start * perExample, (p.start + p.count) * perExample), offset * perExample);
    offset += p.count;
  }
  return x;
}

export interface Schedulable {
  readonly queue: BatchQueue;
}

/**
 * Runs the oldest runnable batch of any queue, at most `maxInFlight` at once, and wakes itself for
 * batch timeouts. `run` must settle the batch's tasks (complete or fail) before it resolves.
 */
export class Scheduler<Q extends Schedulable> {
  private readonly queues = new Set<Q>();
  private busy = 0;
  private readonly maxInFlight: number;
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Infinity;
  private readonly run: (q: Q, b: Batch) => Promise<void>;

  constructor(run: (q: Q, b: Batch) => Promise<void>, maxInFlight = 1) {
    this.run = run;
    this.maxInFlight = maxInFlight;
  }

  add(q: Q): void {
    this.queues.add(q);
  }

  remove(q: Q): void {
    this.queues.delete(q);
  }

  /** Starts a batch if the runner is free and one may run; otherwise arms the timeout. */
  kick(): void {
    if (this.busy >= this.maxInFlight) return;
    const now = performance.now();
    let best: Q | undefined;
    let bestAt = Infinity;
    let wake = Infinity;
    for (const q of this.queues) {
      const at = q.queue.readyAt(now);
      if (at !== undefined) {
        if (at < bestAt) {
          bestAt = at;
          best = q;
        }
      } else {
        const d = q.queue.deadline();
        if (d !== undefined && d < wake) wake = d;
      }
    }
    if (best) {
      const batch = best.queue.take(now);
      if (!batch) return;
      this.busy++;
      const q = best;
      void this.run(q, batch)
        .catch((err: unknown) => q.queue.fail(batch, err instanceof Error ? err : new Error(String(err))))
        .finally(() => {
          this.busy--;
          this.kick();
        });
      this.kick();
      return;
    }
    if (wake < Infinity && wake < this.timerAt) {
      if (this.timer) clearTimeout(this.timer);
      this.timerAt = wake;
      this.timer = setTimeout(
        () => {
          this.timer = undefined;
          this.timerAt = Infinity;
          this.kick();
        },
        Math.max(0, wake - now),
      );
    }
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Infinity;
  }
}
