/**
 * `POST /v1/models/{name}[/versions/{v}|/labels/{l}]:feedback`: ground truth for earlier predictions.
 *
 *   {"id": "r1", "label": "Sneaker"}                        one prediction (the request id its answer carried)
 *   {"id": "r1", "index": 3, "label": 7}                    example 3 of a request of several (label by name or index)
 *   {"examples": [{"id": "r1", "label": "Sneaker"}, …]}     a batch
 *   {"examples": [{"label": "Shirt", "predicted": 6}]}      counts only: no id, so no input to store
 *
 * A labelled prediction is appended to the feedback store (input, prediction, label, version,
 * digest, times) before it is counted in /metrics (`modelship_feedback_total` by label and
 * prediction, `modelship_feedback_correct_total` / `_wrong_total`), so the counters never run ahead
 * of the store. The version is the one that made the prediction (a URL that names another is a
 * 400). One prediction takes feedback once (409 after that).
 *
 * A single entry is answered with its own status: 200, 404 never seen, 410 expired, 409 already
 * labelled, 400 malformed. A batch is refused whole (400) when an entry is malformed; otherwise it is
 * answered 200 with a result per entry (`errors: true` when some were refused), like a bulk API.
 */
import type { FeedbackRecord, FeedbackStore } from '../feedback/index.ts';
import { errorMessage, type Logger } from '../util/index.ts';
import { HttpError, badRequest, preview } from './http-error.ts';
import type { ServerMetrics } from './metrics.ts';
import type { RecentEntry, RecentRequests } from './recent.ts';

/** Entries in one batch at most. */
export const MAX_FEEDBACK_BATCH = 10_000;

/** Request ids: 1 to 256 printable ASCII characters (they travel in a header). */
export const REQUEST_ID_RE = /^[\x21-\x7e]{1,256}$/;

export interface FeedbackItem {
  /** The entry's position in the batch (0 for a single entry). */
  readonly position: number;
  readonly id?: string;
  readonly index?: number;
  readonly label: unknown;
  readonly predicted?: unknown;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function item(v: unknown, position: number, batch: boolean): FeedbackItem {
  const where = batch ? `examples[${position}]` : 'the feedback';
  if (!isRecord(v)) throw badRequest(`${where} must be an object {"id": <request id>, "label": <class>}; got ${preview(v, 60)}.`);
  const known = ['id', 'index', 'label', 'predicted'];
  const extra = Object.keys(v).filter((k) => !known.includes(k));
  if (extra.length) {
    throw badRequest(
      `${where} has the unknown key${extra.length > 1 ? 's' : ''} ${extra.map((k) => `'${k.slice(0, 40)}'`).join(', ')}; it takes id, index, label (and predicted without an id).`,
    );
  }
  const { id, index, label, predicted } = v;
  if (label === undefined) throw badRequest(`${where} has no 'label' (the true class, by name or index).`);
  if (id !== undefined) {
    if (typeof id !== 'string' || !REQUEST_ID_RE.test(id)) {
      throw badRequest(
        `${where}: 'id' must be the request id a prediction was answered with (1 to 256 printable ASCII characters); got ${preview(id, 60)}.`,
      );
    }
    if (predicted !== undefined) {
      throw badRequest(`${where} gives both 'id' and 'predicted': with an id the server knows what it predicted; drop 'predicted'.`);
    }
    if (index !== undefined && !(typeof index === 'number' && Number.isSafeInteger(index) && index >= 0)) {
      throw badRequest(`${where}: 'index' must be the example's position in its request (0, 1, …); got ${preview(index, 40)}.`);
    }
    return { position, id, ...(index !== undefined ? { index } : {}), label };
  }
  if (predicted === undefined) {
    throw badRequest(`${where} has neither 'id' (the request id of the prediction) nor 'predicted'.`);
  }
  if (index !== undefined) throw badRequest(`${where} gives 'index' without 'id'.`);
  return { position, label, predicted };
}

/** The entries of a feedback body (see the module comment); a 400 naming the entry otherwise. */
export function parseFeedbackBody(doc: Record<string, unknown>): { readonly items: FeedbackItem[]; readonly batch: boolean } {
  if ('examples' in doc) {
    const examples = doc['examples'];
    const others = Object.keys(doc).filter((k) => k !== 'examples');
    if (others.length)
      throw badRequest(`a feedback batch is {"examples": [...]} alone; drop ${others.map((k) => `'${k.slice(0, 40)}'`).join(', ')}.`);
    if (!Array.isArray(examples) || examples.length === 0) {
      throw badRequest(`'examples' must be a non-empty list of {"id": <request id>, "label": <class>}.`);
    }
    if (examples.length > MAX_FEEDBACK_BATCH) {
      throw badRequest(`'examples' holds ${examples.length} entries; send at most ${MAX_FEEDBACK_BATCH} per request.`);
    }
    return { items: examples.map((e, i) => item(e, i, true)), batch: true };
  }
  return { items: [item(doc, 0, false)], batch: false };
}

/** A class by name or index, or undefined when it is not one of `classes`. */
export function classOf(v: unknown, classes: readonly string[]): string | undefined {
  if (typeof v === 'string' && classes.includes(v)) return v;
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v < classes.length) return classes[v];
  return undefined;
}

function badClass(what: string, where: string, v: unknown, model: string, classes: readonly string[]): HttpError {
  return badRequest(`${where}: ${what} ${preview(v, 60)} is not a class of ${model} (${classes.join(', ')}, or 0..${classes.length - 1}).`);
}

export interface FeedbackScope {
  readonly model: string;
  /** The version the URL named (versions/N or a label), or undefined for the model's latest. */
  readonly version?: string;
  /** How the URL named it, for messages: `version 3`, `label canary`. */
  readonly named?: string;
  /** The URL's version, for counts-only entries (no id). */
  readonly slot: { readonly version: string; readonly classes: readonly string[]; readonly series: { model: string; version: string } };
}

export interface EntryResult {
  readonly position: number;
  readonly id?: string;
  readonly index?: number;
  readonly status: number;
  readonly result: 'accepted' | 'counted' | 'never-seen' | 'expired' | 'duplicate' | 'invalid' | 'failed';
  readonly version?: string;
  readonly predicted?: string;
  readonly label?: string;
  readonly correct?: boolean;
  readonly error?: string;
}

function ago(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

interface Planned {
  readonly item: FeedbackItem;
  readonly entry?: RecentEntry;
  readonly index: number;
  readonly label: string;
  readonly predicted: string;
  readonly version: string;
  readonly series: { model: string; version: string };
}

/** The server's feedback desk: the recent-requests cache, the store and the counters together. */
export class FeedbackDesk {
  private readonly recent: RecentRequests;
  private readonly store: FeedbackStore | undefined;
  private readonly metrics: ServerMetrics;
  private readonly log: Logger;
  private readonly now: () => number;

  constructor(args: { recent: RecentRequests; store: FeedbackStore | undefined; metrics: ServerMetrics; log: Logger; now?: () => number }) {
    this.recent = args.recent;
    this.store = args.store;
    this.metrics = args.metrics;
    this.log = args.log;
    this.now = args.now ?? Date.now;
  }

  /** Answers a feedback body: the status and the JSON to send. */
  async handle(doc: Record<string, unknown>, scope: FeedbackScope): Promise<{ status: number; body: object }> {
    const { items, batch } = parseFeedbackBody(doc);
    const results = new Array<EntryResult | undefined>(items.length);
    const planned: Planned[] = [];
    // Malformed labels refuse the whole request before anything is looked up.
    const where = (it: FeedbackItem): string => (batch ? `examples[${it.position}]` : 'the feedback');
    for (const it of items) {
      if (it.id === undefined) {
        const classes = scope.slot.classes;
        const label = classOf(it.label, classes);
        if (label === undefined) throw badClass('label', where(it), it.label, scope.model, classes);
        const predicted = classOf(it.predicted, classes);
        if (predicted === undefined) throw badClass('predicted', where(it), it.predicted, scope.model, classes);
        planned.push({ item: it, index: 0, label, predicted, version: scope.slot.version, series: scope.slot.series });
        continue;
      }
      const r = this.plan(it, scope, where(it));
      if ('status' in r) {
        if (r.status === 400 && !batch) throw badRequest(r.error ?? 'invalid feedback');
        results[it.position] = r;
      } else planned.push(r);
    }
    // Claim the examples now, so two requests for one prediction cannot both be stored.
    const claimed = planned.filter((p) => p.entry);
    for (const p of claimed) this.recent.mark(p.entry!, p.index, -1);
    const at = this.now();
    const records: FeedbackRecord[] = claimed.map((p) => this.record(p.entry!, p.index, p.label, at));
    let failure: string | undefined;
    if (records.length && this.store) {
      try {
        await this.store.append(records);
      } catch (err) {
        failure = `the feedback could not be stored in ${this.store.dir}: ${errorMessage(err)}`;
        this.log.warning(failure);
      }
    }
    for (const p of claimed) this.recent.mark(p.entry!, p.index, failure ? 0 : at);
    for (const p of planned) {
      const stored = p.entry !== undefined;
      if (stored && failure) {
        results[p.item.position] = {
          position: p.item.position,
          id: p.item.id!,
          index: p.index,
          status: 500,
          result: 'failed',
          error: failure,
        };
        continue;
      }
      this.metrics.feedbackCount(p.series, p.label, p.predicted, 1);
      results[p.item.position] = {
        position: p.item.position,
        ...(p.item.id !== undefined ? { id: p.item.id, index: p.index } : {}),
        status: 200,
        result: stored ? 'accepted' : 'counted',
        version: p.version,
        predicted: p.predicted,
        label: p.label,
        correct: p.predicted === p.label,
      };
    }
    const all = results as EntryResult[];
    if (!batch) {
      const r = all[0];
      if (r.status !== 200) throw new HttpError(r.status, r.error ?? 'feedback refused');
      const { position: _p, status: _s, ...rest } = r;
      return { status: 200, body: { ...rest, stored: r.result === 'accepted' && this.store !== undefined } };
    }
    const accepted = all.filter((r) => r.status === 200).length;
    return {
      status: 200,
      body: {
        accepted,
        rejected: all.length - accepted,
        errors: accepted < all.length,
        stored: this.store !== undefined,
        results: all.map(({ position: _p, ...rest }) => rest),
      },
    };
  }

  private plan(it: FeedbackItem, scope: FeedbackScope, where: string): Planned | EntryResult {
    const id = it.id!;
    const refuse = (status: number, result: EntryResult['result'], error: string): EntryResult => ({
      position: it.position,
      id,
      ...(it.index !== undefined ? { index: it.index } : {}),
      status,
      result,
      error: `${where}: ${error}`,
    });
    if (!this.recent.enabled) {
      return refuse(404, 'never-seen', `request id '${id}' cannot be looked up: the server keeps no inputs (--feedback-cache-size 0).`);
    }
    const found = this.recent.get(id);
    if (found.kind === 'never-seen') {
      return refuse(
        404,
        'never-seen',
        `request id '${id}' was never seen by this server (running since ${new Date(this.recent.startedAt).toISOString()}${found.forgetting ? '; or it expired so long ago that it is forgotten' : ''}). Send the id a prediction's response carried (X-Request-Id, or the V2 response's id), to the server that answered it.`,
      );
    }
    if (found.kind === 'expired') {
      const why =
        found.by === 'age'
          ? `its input was kept for ${ago(this.recent.maxAgeMs)} (--feedback-cache-max-age) and it was predicted ${ago(this.now() - found.predictedAt)} ago`
          : `its input was evicted to keep the cache within ${this.recent.maxBytes} bytes (--feedback-cache-size), ${ago(this.now() - found.predictedAt)} after the prediction`;
      return refuse(410, 'expired', `request id '${id}' has expired: ${why}. Send feedback sooner, or raise the setting.`);
    }
    const e = found.entry;
    if (e.model !== scope.model) {
      return refuse(
        404,
        'never-seen',
        `request id '${id}' was a prediction of model ${e.model}, not ${scope.model}; send its feedback to /v1/models/${e.model}:feedback.`,
      );
    }
    if (scope.version !== undefined && e.version !== scope.version) {
      return refuse(
        400,
        'invalid',
        `request id '${id}' was predicted by version ${e.version}, not ${scope.named ?? `version ${scope.version}`}; send it to /v1/models/${e.model}:feedback (the id says which version).`,
      );
    }
    let index = it.index;
    if (index === undefined) {
      if (e.count !== 1) {
        return refuse(400, 'invalid', `request id '${id}' had ${e.count} examples; say which with "index" (0..${e.count - 1}).`);
      }
      index = 0;
    }
    if (index >= e.count) {
      return refuse(
        400,
        'invalid',
        `request id '${id}' had ${e.count} example${e.count > 1 ? 's' : ''}; index ${index} is not one of them (0..${e.count - 1}).`,
      );
    }
    const label = classOf(it.label, e.classes);
    if (label === undefined) {
      return refuse(
        400,
        'invalid',
        `label ${preview(it.label, 60)} is not a class of ${e.model} version ${e.version} (${e.classes.join(', ')}, or 0..${e.classes.length - 1}).`,
      );
    }
    const had = e.feedback[index];
    if (had !== 0) {
      return refuse(
        409,
        'duplicate',
        had < 0
          ? `request id '${id}'${e.count > 1 ? ` example ${index}` : ''} is being labelled by another request.`
          : `request id '${id}'${e.count > 1 ? ` example ${index}` : ''} already received feedback at ${new Date(had).toISOString()}; a prediction takes feedback once.`,
      );
    }
    return {
      item: it,
      entry: e,
      index,
      label,
      predicted: e.classes[e.predicted[index]] ?? String(e.predicted[index]),
      version: e.version,
      series: { model: e.model, version: e.version },
    };
  }

  private record(e: RecentEntry, index: number, label: string, at: number): FeedbackRecord {
    const per = e.shape.reduce((a, b) => a * b, 1);
    const values = e.x.subarray(index * per, (index + 1) * per);
    const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    return {
      v: 1,
      id: e.id,
      index,
      model: e.model,
      version: e.version,
      digest: e.digest,
      predicted: e.classes[e.predicted[index]] ?? String(e.predicted[index]),
      label,
      predictedAt: new Date(e.at).toISOString(),
      time: new Date(at).toISOString(),
      input: { dtype: e.dtype, shape: [...e.shape], data: Buffer.from(bytes).toString('base64') },
      ...(e.features ? { features: e.features } : {}),
    };
  }
}
