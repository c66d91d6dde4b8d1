/**
 * The server's Prometheus metrics (prom-client), one Registry per server, with the default process
 * metrics. Names and labels are a contract with monitor-check and deploy-rollout:
 *
 *   modelship_requests_total{model,version,api,code}         counter
 *   modelship_request_duration_seconds{model,version}         histogram (inference requests, whole request)
 *   modelship_batch_size{model,version}                       histogram
 *   modelship_queue_wait_seconds{model,version}               histogram
 *   modelship_queue_depth{model,version}                      gauge (requests waiting for a batch)
 *   modelship_predictions_total{model,version,class}          counter (predicted class, argmax)
 *   modelship_examples_total{model,version}                   counter
 *   modelship_input_values{model,version}                     histogram, the reference statistics' bins
 *   modelship_feedback_total{model,version,label,predicted}   counter (ground truth sent back by clients: the confusion counts)
 *   modelship_feedback_correct_total{model,version}           counter (feedback whose label is the prediction)
 *   modelship_feedback_wrong_total{model,version}             counter (feedback whose label is another class)
 *   modelship_model_info{model,version,digest}                gauge = 1 per loaded version
 *   modelship_label_info{model,label,version}                 gauge = 1 per label
 *
 * The per-example counters are kept in typed arrays on the hot path and handed to prom-client when
 * Prometheus scrapes (a `collect` hook), so a batch of 64 costs a few array writes, not 64 label
 * lookups. `modelship_input_values` counts every raw input value once, binned by the rule of
 * `histogram()` in shared/data/stats.ts over the model's recorded reference edges, so bucket i holds
 * exactly what the reference's bin i would hold for the same values (see {@link binIndex}).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricType } from 'prom-client';

export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
export const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
export const QUEUE_WAIT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

export const APIS = ['predict', 'classify', 'regress', 'infer', 'metadata', 'status', 'health', 'feedback'] as const;
export type Api = (typeof APIS)[number];

type VersionLabels = { model: string; version: string };

/** Equal-width bins over [lo, hi] as `histogram()` in shared/data/stats.ts draws them. */
export interface Bins {
  /** Bin edges, length = bins + 1 (the reference's `histogram.edges`). */
  readonly edges: readonly number[];
  readonly lo: number;
  readonly width: number;
  readonly bins: number;
}

export function binsFromEdges(edges: readonly number[]): Bins {
  const bins = edges.length - 1;
  const lo = edges[0];
  const hi = edges[edges.length - 1];
  const top = hi > lo ? hi : lo + 1;
  return { edges, lo, width: (top - lo) / bins, bins };
}

/** The bin of a value: `histogram()`'s rule (floor((v - lo) / width), clamped to the first and last bin). */
export function binIndex(v: number, b: Bins): number {
  return Math.min(b.bins - 1, Math.max(0, Math.floor((v - b.lo) / b.width)));
}

interface InputSeries {
  readonly labels: VersionLabels;
  readonly bins: Bins;
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

type Snapshot = Awaited<ReturnType<Histogram['get']>>;

/**
 * A histogram whose buckets are per series (each model version has its reference's edges) and whose
 * counts live in arrays: prom-client's own histogram takes one observe() per value, too slow for 784
 * pixels per image.
 */
class InputValuesHistogram extends Histogram<'model' | 'version'> {
  private readonly series = new Map<string, InputSeries>();
  private readonly metricName: string;
  private readonly metricHelp: string;

  constructor(registry: Registry, name: string, help: string) {
    super({ name, help, labelNames: ['model', 'version'], buckets: [1], registers: [registry] });
    this.metricName = name;
    this.metricHelp = help;
  }

  add(key: string, labels: VersionLabels, bins: Bins): void {
    this.series.set(key, { labels, bins, counts: new Float64Array(bins.bins), sum: 0, count: 0 });
  }

  drop(key: string): void {
    this.series.delete(key);
  }

  has(key: string): boolean {
    return this.series.has(key);
  }

  count(key: string, x: ArrayLike<number>): void {
    const s = this.series.get(key);
    if (!s) return;
    const { lo, width, bins } = s.bins;
    const last = bins - 1;
    const counts = s.counts;
    let sum = 0;
    for (let i = 0; i < x.length; i++) {
      const v = x[i];
      sum += v;
      const b = Math.floor((v - lo) / width);
      counts[b < 0 ? 0 : b > last ? last : b]++;
    }
    s.sum += sum;
    s.count += x.length;
  }

  private snapshot(): Snapshot {
    const values: Snapshot['values'] = [];
    for (const s of this.series.values()) {
      let cumulative = 0;
      for (let i = 0; i < s.bins.bins; i++) {
        cumulative += s.counts[i];
        values.push({ metricName: `${this.metricName}_bucket`, labels: { ...s.labels, le: s.bins.edges[i + 1] }, value: cumulative });
      }
      values.push({ metricName: `${this.metricName}_bucket`, labels: { ...s.labels, le: '+Inf' }, value: s.count });
      values.push({ metricName: `${this.metricName}_sum`, labels: s.labels, value: s.sum });
      values.push({ metricName: `${this.metricName}_count`, labels: s.labels, value: s.count });
    }
    return {
      name: this.metricName,
      help: this.metricHelp,
      type: 'histogram' as unknown as MetricType,
      values,
      aggregator: 'sum',
      collect: () => undefined,
    };
  }

  override get(): Promise<Snapshot> {
    return Promise.resolve(this.snapshot());
  }

  /** What prom-client's Registry reads for the text exposition. */
  getForPromString(): Promise<Snapshot> {
    return Promise.resolve(this.snapshot());
  }

  override reset(): void {
    // prom-client's constructor calls reset() before this class's fields exist.
    const series = this.series as Map<string, InputSeries> | undefined;
    if (!series) return;
    for (const s of series.values()) {
      s.counts.fill(0);
      s.sum = 0;
      s.count = 0;
    }
  }
}

/** Per version: class and example counts not yet handed to prom-client. */
interface VersionCounts {
  readonly labels: VersionLabels;
  readonly classes: readonly string[];
  readonly predicted: Float64Array;
  examples: number;
}

export interface QueueDepth {
  readonly model: string;
  readonly version: string;
  readonly depth: number;
}

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'version' | 'api' | 'code'>;
  private readonly duration: Histogram<'model' | 'version'>;
  private readonly batchSize: Histogram<'model' | 'version'>;
  private readonly queueWait: Histogram<'model' | 'version'>;
  private readonly predictions: Counter<'model' | 'version' | 'class'>;
  private readonly examples: Counter<'model' | 'version'>;
  private readonly feedback: Counter<'model' | 'version' | 'label' | 'predicted'>;
  private readonly feedbackCorrect: Counter<'model' | 'version'>;
  private readonly feedbackWrong: Counter<'model' | 'version'>;
  private readonly inputValues: InputValuesHistogram;
  private readonly modelInfo: Gauge<'model' | 'version' | 'digest'>;
  private readonly labelInfo: Gauge<'model' | 'label' | 'version'>;
  private readonly pending = new Map<string, VersionCounts>();

  constructor(queueDepths: () => Iterable<QueueDepth>) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    // prom-client's totals of these are gauges named *_total, which promtool's lint refuses; the
    // per-type gauges (nodejs_active_handles{type=…} and so on) carry the same numbers.
    for (const name of ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total']) {
      this.registry.removeSingleMetric(name);
    }
    this.requests = new Counter({
      name: 'modelship_requests_total',
      help: 'Requests answered, by model, version, API and HTTP status code.',
      labelNames: ['model', 'version', 'api', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'modelship_request_duration_seconds',
      help: 'Whole-request latency of inference requests (predict, classify, regress, infer), from the first byte read to the response written.',
      labelNames: ['model', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'modelship_batch_size',
      help: 'Examples per model call (dynamic batching).',
      labelNames: ['model', 'version'],
      buckets: BATCH_SIZE_BUCKETS,
      registers,
    });
    this.queueWait = new Histogram({
      name: 'modelship_queue_wait_seconds',
      help: 'Time a request waited in the batching queue before its model call started.',
      labelNames: ['model', 'version'],
      buckets: QUEUE_WAIT_BUCKETS,
      registers,
    });
    new Gauge({
      name: 'modelship_queue_depth',
      help: 'Requests waiting in the batching queue.',
      labelNames: ['model', 'version'],
      registers,
      collect(this: Gauge<'model' | 'version'>) {
        this.reset();
        for (const q of queueDepths()) this.set({ model: q.model, version: q.version }, q.depth);
      },
    });
    const flush = (): void => this.flush();
    this.predictions = new Counter({
      name: 'modelship_predictions_total',
      help: 'Predicted classes (argmax), by model, version and class name.',
      labelNames: ['model', 'version', 'class'],
      registers,
      collect: flush,
    });
    this.examples = new Counter({
      name: 'modelship_examples_total',
      help: 'Examples predicted.',
      labelNames: ['model', 'version'],
      registers,
      collect: flush,
    });
    this.feedback = new Counter({
      name: 'modelship_feedback_total',
      help: 'Ground truth sent back by clients (:feedback), by true label and predicted class.',
      labelNames: ['model', 'version', 'label', 'predicted'],
      registers,
    });
    this.feedbackCorrect = new Counter({
      name: 'modelship_feedback_correct_total',
      help: 'Feedback (:feedback) whose true label is the class the version predicted.',
      labelNames: ['model', 'version'],
      registers,
    });
    this.feedbackWrong = new Counter({
      name: 'modelship_feedback_wrong_total',
      help: 'Feedback (:feedback) whose true label is another class than the version predicted.',
      labelNames: ['model', 'version'],
      registers,
    });
    this.inputValues = new InputValuesHistogram(
      this.registry,
      'modelship_input_values',
      'Raw input values (pixels or features) in the bins of the reference statistics recorded with the model version.',
    );
    this.modelInfo = new Gauge({
      name: 'modelship_model_info',
      help: '1 for every loaded model version, with its digest.',
      labelNames: ['model', 'version', 'digest'],
      registers,
    });
    this.labelInfo = new Gauge({
      name: 'modelship_label_info',
      help: '1 for every version label (stable, canary, …) and the version it points at.',
      labelNames: ['model', 'label', 'version'],
      registers,
    });
  }

  request(model: string, version: string, api: Api, code: number): void {
    this.requests.inc({ model, version, api, code });
  }

  requestDuration(model: string, version: string, seconds: number): void {
    this.duration.observe({ model, version }, seconds);
  }

  batch(labels: VersionLabels, size: number): void {
    this.batchSize.observe(labels, size);
  }

  waited(labels: VersionLabels, seconds: number): void {
    this.queueWait.observe(labels, seconds);
  }

  /** Starts the series of a loaded version: info, counts, the input histogram when bins are known. */
  addVersion(key: string, labels: VersionLabels, digest: string, classes: readonly string[], bins: Bins | undefined): void {
    this.pending.set(key, { labels, classes, predicted: new Float64Array(classes.length), examples: 0 });
    if (bins) this.inputValues.add(key, labels, bins);
    this.modelInfo.set({ ...labels, digest }, 1);
    for (const name of classes) this.predictions.inc({ ...labels, class: name }, 0);
    this.examples.inc(labels, 0);
    if (classes.length > 0) {
      this.feedbackCorrect.inc(labels, 0);
      this.feedbackWrong.inc(labels, 0);
    }
  }

  /** Ends the info series of an unloaded version; its counters keep their last values. */
  removeVersion(key: string, digest: string): void {
    const c = this.pending.get(key);
    if (!c) return;
    this.flush();
    this.pending.delete(key);
    this.inputValues.drop(key);
    this.modelInfo.remove({ ...c.labels, digest });
  }

  hasInputHistogram(key: string): boolean {
    return this.inputValues.has(key);
  }

  /** Counts raw input values into the version's reference bins. */
  inputs(key: string, x: ArrayLike<number>): void {
    this.inputValues.count(key, x);
  }

  /** Counts examples and, for classifiers, the argmax class of each output row. */
  outputs(key: string, out: Float32Array, count: number, outputs: number): void {
    const c = this.pending.get(key);
    if (!c) return;
    c.examples += count;
    if (c.classes.length === 0) return;
    for (let i = 0; i < count; i++) {
      let best = 0;
      const base = i * outputs;
      for (let j = 1; j < outputs; j++) if (out[base + j] > out[base + best]) best = j;
      c.predicted[best]++;
    }
  }

  feedbackCount(labels: VersionLabels, label: string, predicted: string, n: number): void {
    this.feedback.inc({ ...labels, label, predicted }, n);
    (label === predicted ? this.feedbackCorrect : this.feedbackWrong).inc(labels, n);
  }

  setLabel(model: string, label: string, version: string | undefined, previous: string | undefined): void {
    if (previous !== undefined) this.labelInfo.remove({ model, label, version: previous });
    if (version !== undefined) this.labelInfo.set({ model, label, version }, 1);
  }

  private flush(): void {
    for (const c of this.pending.values()) {
      if (c.examples > 0) {
        this.examples.inc(c.labels, c.examples);
        c.examples = 0;
      }
      for (let i = 0; i < c.classes.length; i++) {
        const n = c.predicted[i];
        if (n > 0) {
          this.predictions.inc({ ...c.labels, class: c.classes[i] }, n);
          c.predicted[i] = 0;
        }
      }
    }
  }

  contentType(): string {
    return this.registry.contentType;
  }

  exposition(): Promise<string> {
    return this.registry.metrics();
  }
}
