/**
 * A STAND-IN for the model server (issue 10) until it lands: a small HTTP exporter on 127.0.0.1
 * that serves the server's metric contract through prom-client (the library the server uses),
 * with traffic the test controls. It is not `modelship serve`: nothing here predicts anything.
 * The server-integration phase replaces it with real `modelship serve` processes driven by load.
 *
 * Every 100 ms each configured model version gets one tick of "traffic": `requests` inference
 * requests (the first `errors` of them answered 500), their latencies taken in turn from
 * `latencies`, `predictions` by class, `inputBins` raw input values per reference bin (each counted
 * once in the bucket whose upper edge closes its bin, as the contract says), and `examples`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface Traffic {
  readonly requests: number;
  readonly errors: number;
  /** Seconds, used in turn. */
  readonly latencies: readonly number[];
  /** Predictions per tick by class name. */
  readonly predictions: Readonly<Record<string, number>>;
  /** Raw input values per tick in each reference bin. */
  readonly inputBins: readonly number[];
  readonly examples: number;
}

/** The contract's latency buckets (0.001 … 10 s). */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class TestExporter {
  readonly registry = new Registry();
  private readonly requests: Counter<'model' | 'version' | 'api' | 'code'>;
  private readonly duration: Histogram<'model' | 'version'>;
  private readonly predictions: Counter<'model' | 'version' | 'class'>;
  private readonly examples: Counter<'model' | 'version'>;
  private readonly inputs: Histogram<'model' | 'version'>;
  private readonly traffic = new Map<string, { model: string; version: string; t: Traffic; i: number }>();
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  scrapes = 0;
  url = '';

  private readonly edges: readonly number[];

  /** `edges`: the reference histogram's edges (its upper edges become the input buckets). */
  constructor(edges: readonly number[]) {
    this.edges = edges;
    const registers = [this.registry];
    this.requests = new Counter({
      name: 'modelship_requests_total',
      help: 'Requests by model, version, API and status code.',
      labelNames: ['model', 'version', 'api', 'code'],
      registers,
    });
    this.duration = new Histogram({
      name: 'modelship_request_duration_seconds',
      help: 'Request latency.',
      labelNames: ['model', 'version'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.predictions = new Counter({
      name: 'modelship_predictions_total',
      help: 'Predicted classes.',
      labelNames: ['model', 'version', 'class'],
      registers,
    });
    this.examples = new Counter({
      name: 'modelship_examples_total',
      help: 'Examples predicted.',
      labelNames: ['model', 'version'],
      registers,
    });
    this.inputs = new Histogram({
      name: 'modelship_input_values',
      help: 'Raw input values in the reference bins.',
      labelNames: ['model', 'version'],
      buckets: edges.slice(1),
      registers,
    });
    new Gauge({ name: 'modelship_model_info', help: 'Loaded models.', labelNames: ['model', 'version', 'digest'], registers });
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.statusCode = 404;
        res.end('not found');
        return;
      }
      this.scrapes++;
      this.registry.metrics().then(
        (text) => {
          res.setHeader('content-type', this.registry.contentType);
          res.end(text);
        },
        (err: unknown) => {
          res.statusCode = 500;
          res.end(String(err));
        },
      );
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    this.timer = setInterval(() => this.tick(), 100);
    this.timer.unref();
    return this.url;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    const s = this.server;
    this.server = undefined;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((resolve) => s.close(() => resolve()));
    }
  }

  /** Sets (or replaces) the traffic of one model version. */
  serve(model: string, version: string, t: Traffic): void {
    this.traffic.set(`${model}\n${version}`, { model, version, t, i: 0 });
  }

  /** Stops one version's traffic; its series stay, no longer increasing. */
  idle(model: string, version: string): void {
    this.traffic.delete(`${model}\n${version}`);
  }

  private tick(): void {
    for (const v of this.traffic.values()) {
      const labels = { model: v.model, version: v.version };
      for (let r = 0; r < v.t.requests; r++) {
        this.requests.inc({ ...labels, api: 'predict', code: r < v.t.errors ? '500' : '200' });
        this.duration.observe(labels, v.t.latencies[v.i++ % v.t.latencies.length]);
      }
      // Health checks are not traffic: they must not dilute the error rate.
      this.requests.inc({ ...labels, api: 'health', code: '200' }, 5);
      for (const [c, n] of Object.entries(v.t.predictions)) if (n > 0) this.predictions.inc({ ...labels, class: c }, n);
      this.examples.inc(labels, v.t.examples);
      v.t.inputBins.forEach((n, b) => {
        const mid = (this.edges[b] + this.edges[b + 1]) / 2;
        for (let k = 0; k < n; k++) this.inputs.observe(labels, mid);
      });
    }
  }
}
