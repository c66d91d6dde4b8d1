/**
 * The served models: versions ("slots") per model name, and labels (stable, canary, …) that point
 * at loaded versions. Routing reads this table; loading, unloading and label moves change it in one
 * synchronous step, so a request sees either the old or the new state, never half of one.
 *
 * A slot counts the requests that hold it (from routing to the response): unloading takes a slot out
 * of the table first and disposes of its model only when no request holds it any more.
 */
import type { ModelMetadata } from '../model/index.ts';
import { BatchQueue, type BatchingOptions, type Schedulable } from './batcher.ts';
import { HttpError, badRequest, notFound } from './http-error.ts';
import { signatureOf, type Signature } from './signature.ts';

export interface Faults {
  /** Added to every inference request of the version, in milliseconds. */
  readonly latencyMs: number;
  /** Fraction of inference requests answered 500 (deterministic: 0.25 fails every 4th). */
  readonly errorRate: number;
}

export const NO_FAULTS: Faults = { latencyMs: 0, errorRate: 0 };

export class Slot implements Schedulable {
  readonly key: string;
  readonly name: string;
  readonly version: number;
  readonly versionText: string;
  readonly digest: string;
  readonly source: string;
  readonly dir: string;
  readonly metadata: ModelMetadata;
  readonly sig: Signature;
  readonly handle: number;
  readonly queue: BatchQueue;
  readonly loadSeconds: number;
  /** The `model` and `version` label values of this version's metric series. */
  readonly series: { readonly model: string; readonly version: string };
  state: 'AVAILABLE' | 'UNLOADING' = 'AVAILABLE';
  faults: Faults = NO_FAULTS;
  private faultCredit = 0;
  private refs = 0;
  private idle: (() => void)[] = [];

  constructor(args: {
    name: string;
    version: number;
    digest: string;
    source: string;
    dir: string;
    metadata: ModelMetadata;
    handle: number;
    batching: BatchingOptions;
    loadSeconds: number;
  }) {
    this.name = args.name;
    this.version = args.version;
    this.versionText = String(args.version);
    this.key = `${args.name}:${args.version}`;
    this.digest = args.digest;
    this.source = args.source;
    this.dir = args.dir;
    this.metadata = args.metadata;
    this.sig = signatureOf(args.metadata);
    this.handle = args.handle;
    this.queue = new BatchQueue(args.batching);
    this.loadSeconds = args.loadSeconds;
    this.series = { model: args.name, version: this.versionText };
  }

  acquire(): void {
    this.refs++;
  }

  release(): void {
    if (--this.refs === 0) for (const f of this.idle.splice(0)) f();
  }

  /** Resolves when no request holds the slot. */
  whenIdle(): Promise<void> {
    return this.refs === 0 ? Promise.resolve() : new Promise((resolve) => this.idle.push(resolve));
  }

  /** Whether the next inference request should get an injected 500. */
  injectError(): boolean {
    const rate = this.faults.errorRate;
    if (rate <= 0) return false;
    this.faultCredit += rate;
    if (this.faultCredit >= 1 - 1e-9) {
      this.faultCredit -= 1;
      return true;
    }
    return false;
  }

  setFaults(f: Faults): void {
    this.faults = f;
    this.faultCredit = 0;
  }
}

export type Selector =
  { readonly kind: 'latest' } | { readonly kind: 'version'; readonly version: string } | { readonly kind: 'label'; readonly label: string };

interface ModelEntry {
  readonly versions: Map<number, Slot>;
  readonly labels: Map<string, number>;
}

/** TF Serving's request description in its not-found errors: Latest(name), Specific(name, 3). */
function describe(name: string, sel: Selector): string {
  return sel.kind === 'version' ? `Specific(${name}, ${sel.version})` : `Latest(${name})`;
}

export class ModelTable {
  private readonly models = new Map<string, ModelEntry>();

  names(): string[] {
    return [...this.models.keys()].sort();
  }

  slots(): Slot[] {
    const out: Slot[] = [];
    for (const name of this.names()) out.push(...[...this.models.get(name)!.versions.values()].sort((a, b) => a.version - b.version));
    return out;
  }

  versionsOf(name: string): Slot[] {
    const e = this.models.get(name);
    return e ? [...e.versions.values()].sort((a, b) => a.version - b.version) : [];
  }

  hasModel(name: string): boolean {
    return this.models.has(name);
  }

  has(name: string, version: number): boolean {
    return this.models.get(name)?.versions.has(version) ?? false;
  }

  labelsOf(slot: Slot): string[] {
    const e = this.models.get(slot.name);
    if (!e) return [];
    return [...e.labels]
      .filter(([, v]) => v === slot.version)
      .map(([l]) => l)
      .sort();
  }

  labels(name: string): ReadonlyMap<string, number> {
    return this.models.get(name)?.labels ?? new Map();
  }

  /** The slot a request addresses; a 404 in TF Serving's words otherwise (400 for a non-numeric version). */
  resolve(name: string, sel: Selector): Slot {
    const e = this.models.get(name);
    if (!e || e.versions.size === 0) throw notFound(`Servable not found for request: ${describe(name, sel)}`);
    if (sel.kind === 'latest') {
      let best: Slot | undefined;
      for (const s of e.versions.values()) if (!best || s.version > best.version) best = s;
      return best!;
    }
    if (sel.kind === 'label') {
      const v = e.labels.get(sel.label);
      const s = v === undefined ? undefined : e.versions.get(v);
      if (!s) throw notFound(`Unrecognized servable version label: ${sel.label}`);
      return s;
    }
    if (!/^[0-9]{1,15}$/.test(sel.version)) throw badRequest(`Failed to convert version: ${sel.version.slice(0, 40)} to numeric.`);
    const s = e.versions.get(Number(sel.version));
    if (!s) throw notFound(`Servable not found for request: ${describe(name, sel)}`);
    return s;
  }

  add(slot: Slot): void {
    let e = this.models.get(slot.name);
    if (!e) {
      e = { versions: new Map(), labels: new Map() };
      this.models.set(slot.name, e);
    }
    if (e.versions.has(slot.version)) throw new HttpError(409, `${slot.name} version ${slot.version} is already loaded.`);
    e.versions.set(slot.version, slot);
  }

  /** Takes a version out of routing; refused (409) while a label points at it. */
  remove(name: string, version: number): Slot {
    const e = this.models.get(name);
    const s = e?.versions.get(version);
    if (!e || !s) throw notFound(`Servable not found for request: Specific(${name}, ${version})`);
    const held = [...e.labels].filter(([, v]) => v === version).map(([l]) => l);
    if (held.length > 0) {
      throw new HttpError(
        409,
        `${name} version ${version} is labelled ${held.join(', ')}; move or delete the label${held.length > 1 ? 's' : ''} before unloading it.`,
      );
    }
    e.versions.delete(version);
    if (e.versions.size === 0 && e.labels.size === 0) this.models.delete(name);
    return s;
  }

  /** Points a label at a loaded version; returns the version it pointed at before. */
  setLabel(name: string, label: string, version: number): number | undefined {
    const e = this.models.get(name);
    if (!e?.versions.has(version)) {
      throw new HttpError(409, `cannot point label ${label} of ${name} at version ${version}: that version is not loaded.`);
    }
    const before = e.labels.get(label);
    e.labels.set(label, version);
    return before;
  }

  deleteLabel(name: string, label: string): number {
    const e = this.models.get(name);
    const v = e?.labels.get(label);
    if (!e || v === undefined) throw notFound(`Unrecognized servable version label: ${label}`);
    e.labels.delete(label);
    return v;
  }
}
