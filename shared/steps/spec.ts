/**
 * A step: the one definition behind an action and a CLI command.
 *
 * It declares its inputs and outputs (the action.yml interface, checked by a test), and a `run`
 * that takes the parsed inputs and a context, and returns outputs, an optional job summary and an
 * optional failure (e.g. a gate that did not pass, reported after the outputs are set). The context
 * carries the services the step may use, built by the door that runs it (the Actions runner or the
 * CLI); steps never ask who called them, and tests pass fakes.
 */
import type { z } from 'zod';
import type { InputDecls, ParsedInputs, ProjectConfig } from '../config/index.ts';
import type { DataCache } from '../data/index.ts';
import type { GithubService } from '../github/index.ts';
import type { KubeClient, KubeTarget } from '../k8s/index.ts';
import type { Logger } from '../util/index.ts';

/** Kubernetes clients by kubeconfig, context and namespace (in-cluster, then KUBECONFIG, by default). */
export type KubeFactory = (target?: KubeTarget) => Promise<KubeClient>;

/** What a door hands every step. */
export interface StepServices {
  readonly log: Logger;
  readonly cwd: string;
  readonly now: () => Date;
  /** The prepared-data cache (the Actions cache on a runner that has one), or none. */
  readonly dataCache?: DataCache;
  /** The run's GitHub context, provenance and API clients. */
  readonly github: GithubService;
  readonly kube: KubeFactory;
  /** The environment the door ran in, for the few settings that are environment by nature. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The command that runs modelship's CLI from here (node and its entry), for processes a step starts (servers, the proxy). */
  readonly cli: readonly string[];
  /**
   * A signal aborted when the process is asked to stop (SIGINT, SIGTERM), for long work that winds
   * down cleanly. Asking for it is what makes the first signal wind down instead of kill; a second
   * one then ends the process.
   */
  readonly interrupt: () => AbortSignal;
}

export interface StepContext extends StepServices {
  /** modelship.yml as loaded for this step (empty when there is none). */
  readonly config: ProjectConfig;
}

export type OutputValue = string | number | boolean;

export interface StepResult<O extends string> {
  readonly outputs: Readonly<Record<O, OutputValue>>;
  /** Markdown for the job summary (the CLI keeps it as a file). */
  readonly summary?: string;
  /** Set when the step did its work but must fail the job (e.g. a gate verdict). */
  readonly failure?: string;
}

export interface StepSpec<D extends InputDecls, O extends string> {
  readonly name: string;
  readonly description: string;
  readonly inputs: D;
  readonly outputs: Readonly<Record<O, string>>;
  /** The modelship.yml section whose keys supply inputs of the same name. */
  readonly configSection?: string;
  /** Config keys whose input has another name (e.g. registry.url → registry). */
  readonly configRename?: Readonly<Record<string, string>>;
  /** Nested settings of the section that are not inputs (train.kubernetes), with their schema. */
  readonly configExtra?: Readonly<Record<string, z.ZodType>>;
  /** The action installs and caches tfjs-node on the runner before it runs (a composite action). */
  readonly installsTfjsNode?: boolean;
  /**
   * The job's GITHUB_TOKEN permissions the step can need (`pull-requests: write` → what for), for
   * the generated docs and the check of the example workflows' `permissions:`.
   */
  readonly permissions?: Readonly<Record<string, string>>;
  /** A typical `with:` for the docs (generated READMEs); every key is one of `inputs`. */
  readonly example?: Readonly<Record<string, string>>;
  run(inputs: ParsedInputs<D>, ctx: StepContext): Promise<StepResult<O>>;
}

/** Keeps the literal types of a step definition. */
export function defineStep<D extends InputDecls, O extends string>(spec: StepSpec<D, O>): StepSpec<D, O> {
  return spec;
}

/** Any step, for code that handles steps generically (the doors, the interface test). */
export type AnyStep = StepSpec<InputDecls, string>;
