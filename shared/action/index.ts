/**
 * The Actions runner door: a step run as a GitHub Action (inputs, outputs, summary, failure).
 * The bundle's entry is entry.ts, which is not re-exported here: importing it sets the bundle's
 * wasm location for the whole process.
 */
export { actionsLogger, runAction, type ActionDeps } from './run.ts';
export { unpackInputs } from './inputs.ts';
