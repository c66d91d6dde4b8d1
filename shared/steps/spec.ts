/**
 * A step: the one definition behind an action and a CLI command.
 *
 * It declares its inputs and outputs (the action.yml interface, checked by a test), and a `run`
 * that takes the parsed inputs and a context (logger, environment, clock) and returns outputs,
 * an optional job summary and an optional failure (e.g. a gate that did not pass, reported after
 * the outputs are set).
 */
import type { ConfigSection } from '../config/index.ts';
import type { Logger } from '../util/index.ts';
import type { InputDecls, ParsedInputs } from './inputs.ts';

export interface StepContext {
  readonly log: Logger;
  /** The environment the step sees (GITHUB_* variables among them). */
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  readonly now: () => Date;
  /** 'action' when run by the Actions runner, 'cli' from the command line. */
  readonly via: 'action' | 'cli';
}

export type OutputValue = string | number | boolean;

export interface StepResult<O extends string> {
  readonly outputs: Readonly<Record<O, OutputValue>>;
  /** Markdown for the job summary (the CLI prints its path or ignores it). */
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
  readonly configSection?: ConfigSection;
  /** Config keys whose input has another name (e.g. registry.url → registry). */
  readonly configRename?: Readonly<Record<string, string>>;
  run(inputs: ParsedInputs<D>, ctx: StepContext): Promise<StepResult<O>>;
}

/** Keeps the literal types of a step definition. */
export function defineStep<D extends InputDecls, O extends string>(spec: StepSpec<D, O>): StepSpec<D, O> {
  return spec;
}

/** Any step, for code that handles steps generically (the runners, the CLI, the interface test). */
export type AnyStep = StepSpec<InputDecls, string>;
