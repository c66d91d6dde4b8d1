/**
 * The registry's public types: what a version is, what the one `Registry` interface returns.
 * Transports (local OCI layout, OCI distribution over HTTP; MLflow later) implement `Registry`.
 */
import type { Logger, Provenance } from '../util/index.ts';
import type { Reference, ResolvedRef } from './reference.ts';

export type { Reference, ResolvedRef } from './reference.ts';

/** The config blob of a version: the metadata and lineage (media type MODEL_CONFIG_MEDIA_TYPE). */
export interface ModelConfig {
  readonly schemaVersion: 1;
  readonly kind: 'modelship.model.config';
  readonly name: string;
  /** When the model was made (training's finish time, else the registration time). */
  readonly created: string;
  readonly task?: string;
  readonly inputShape?: readonly number[];
  readonly classes?: readonly string[];
  /** Numeric metrics: from evaluate-gate's report when given, else training's validation metrics. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly metricsSource: 'report' | 'training' | 'none';
  /** The gate verdict from the report, when one was given. */
  readonly gatePassed?: boolean;
  readonly dataset?: {
    readonly digest: string;
    readonly split?: { readonly ratios?: readonly number[]; readonly seed?: number; readonly given?: boolean };
    readonly splits?: Readonly<Record<string, string>>;
  };
  readonly params?: Readonly<Record<string, unknown>>;
  readonly backend?: string;
  readonly versions?: Readonly<Record<string, string>>;
  readonly git?: { readonly commit?: string; readonly dirty?: boolean; readonly ref?: string; readonly repository?: string };
  readonly run?: { readonly url?: string; readonly id?: string; readonly attempt?: string; readonly workflow?: string };
  /** The version this one was evaluated against (evaluate-gate's baseline), when known. */
  readonly parent?: { readonly name?: string; readonly version?: number; readonly digest?: string; readonly ref?: string };
}

export interface LayerInfo {
  readonly title: string;
  readonly mediaType: string;
  readonly digest: string;
  readonly size: number;
}

export interface PushOptions {
  /** The model name (one repository path component). */
  readonly name: string;
  /** evaluate-gate's report.json, stored as a layer; its metrics go into the config. */
  readonly report?: string;
  /** setup-data's manifest.json or data set folder, for lineage. */
  readonly dataset?: string;
  /** Where this registration runs from (commit, repository, run link), recorded in the config. */
  readonly provenance?: Provenance;
  readonly now?: () => Date;
}

export interface RegisteredVersion extends ResolvedRef {
  /** false when the identical model was already registered (idempotent re-push). */
  readonly created: boolean;
  readonly config: ModelConfig;
  readonly layers: readonly LayerInfo[];
  /** Bytes of blobs actually uploaded (0 when they were all there already). */
  readonly uploadedBytes: number;
}

export interface PulledModel {
  readonly dir: string;
  readonly resolved: ResolvedRef;
  readonly config: ModelConfig;
  readonly files: readonly string[];
  readonly bytes: number;
}

export interface VersionInfo {
  readonly name: string;
  readonly version: number;
  readonly digest: string;
  readonly aliases: readonly string[];
  readonly created?: string;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface AliasTarget {
  readonly version: number;
  readonly digest: string;
}

/** One move in an alias's history: each entry's `from` is the previous entry's `to`. */
export interface AliasLogEntry {
  readonly at: string;
  readonly action: 'promote' | 'rollback';
  readonly from?: AliasTarget;
  readonly to: AliasTarget;
  readonly id?: string;
}

export interface AliasMove {
  readonly name: string;
  readonly alias: string;
  /** undefined when the alias is new. */
  readonly from?: AliasTarget;
  readonly to: AliasTarget;
  readonly action: 'promote' | 'rollback';
}

export interface VersionDetails {
  readonly resolved: ResolvedRef;
  readonly config: ModelConfig;
  readonly layers: readonly LayerInfo[];
  readonly annotations: Readonly<Record<string, string>>;
  /** This version, then its parent, the parent's parent… as far as the registry knows them. */
  readonly lineage: readonly { readonly version?: number; readonly digest?: string; readonly ref?: string; readonly name?: string }[];
}

/** The one registry interface; every transport implements it. */
export interface Registry {
  /** Where it is, for display (`ghcr.io/acme/models`, `.modelship/registry`). */
  readonly display: string;
  /** Resolves a reference to a version and its manifest digest; ConfigurationError when absent. */
  resolve(ref: Reference | string): Promise<ResolvedRef>;
  /** The version that holds a model (by its files digest, see model/digest.ts), if one does. */
  findModel(name: string, modelDigest: string): Promise<ResolvedRef | undefined>;
  /** Stores a model folder as a new version (or returns the version that already holds the same model). */
  push(modelDir: string, opts: PushOptions): Promise<RegisteredVersion>;
  /** Fetches a version into destDir, verifying every blob; nothing half-pulled is left in place. */
  pull(ref: Reference | string, destDir: string): Promise<PulledModel>;
  /** Every version of a model, oldest first. */
  list(name: string): Promise<VersionInfo[]>;
  /** Points an alias at a version, recording the previous target. */
  setAlias(name: string, alias: string, version: number): Promise<AliasMove>;
  /** Points an alias back at its previous target. */
  rollback(name: string, alias: string): Promise<AliasMove>;
  /** Every recorded move of an alias, oldest first ([] when it has none). */
  aliasHistory(name: string, alias: string): Promise<readonly AliasLogEntry[]>;
  show(ref: Reference | string): Promise<VersionDetails>;
}

export interface OpenOptions {
  readonly username?: string;
  readonly password?: string;
  readonly log: Logger;
  /** Base folder for a relative local location (default process.cwd()). */
  readonly cwd?: string;
  /** Retry policy for network calls (tests shorten it). */
  readonly retry?: { readonly attempts?: number; readonly baseDelayMs?: number; readonly maxDelayMs?: number };
  /** The default model name a bare alias refers to (`production` → name@production). */
  readonly defaultName?: string;
}
