/**
 * The door for the Actions runner: reads the declared inputs (the only place that calls
 * core.getInput), masks secrets, runs the step, sets its outputs, writes the job summary and
 * fails the step with `<step> failed: <message>` on any error, `unknown` included.
 */
import * as core from '@actions/core';
import { formatFailure, type Logger } from '../util/index.ts';
import { type AnyStep, type OutputValue, resolveInputs, type StepContext } from '../steps/index.ts';

export function actionsLogger(): Logger {
  return {
    info: (m) => core.info(m),
    warning: (m) => core.warning(m),
    debug: (m) => core.debug(m),
    group: (title, fn) => core.group(title, fn),
    secret: (v) => {
      if (v) core.setSecret(v);
    },
  };
}

export interface ActionDeps {
  readonly log?: Logger;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly cwd?: string;
  readonly now?: () => Date;
}

/** Runs one step as a GitHub Action. Never throws; the outcome is in the step's status. */
export async function runAction(step: AnyStep, deps: ActionDeps = {}): Promise<void> {
  const log = deps.log ?? actionsLogger();
  try {
    const raw: Record<string, string> = {};
    for (const [name, decl] of Object.entries(step.inputs)) {
      raw[name] = core.getInput(name);
      if (decl.secret && raw[name]) core.setSecret(raw[name]);
    }
    const cwd = deps.cwd ?? process.cwd();
    const inputs = await resolveInputs(step, raw, cwd);
    const ctx: StepContext = { log, env: deps.env ?? process.env, cwd, now: deps.now ?? (() => new Date()), via: 'action' };
    const result = await step.run(inputs, ctx);
    for (const name of Object.keys(step.outputs)) {
      const value = (result.outputs as Record<string, OutputValue | undefined>)[name];
      if (value !== undefined) core.setOutput(name, String(value));
    }
    if (result.summary && (deps.env ?? process.env)['GITHUB_STEP_SUMMARY']) {
      await core.summary.addRaw(result.summary, true).write();
    }
    if (result.failure) core.setFailed(`${step.name} failed: ${result.failure}`);
  } catch (err) {
    core.setFailed(formatFailure(step.name, err));
  }
}
