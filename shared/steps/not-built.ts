import { ModelshipError } from '../util/index.ts';

/** The honest answer of a step whose implementation has not landed yet. */
export function notBuilt(step: string): never {
  throw new ModelshipError(
    `the ${step} step is declared but not implemented yet in this version of modelship.`,
    'Pin a release that implements it, or leave the step out of the workflow.',
  );
}
