/**
 * The door for the Actions runner: reads the declared inputs (the only place that calls
 * core.getInput), masks secrets, builds the step's services (with the Actions cache when the job
 * has one), runs the step, sets its outputs, writes the job summary and fails the step with
 * `<step> failed: <message>` on any error, `unknown` included.
 */
import * as core from '@actions/core';
import { actionsDataCache } from '../github/index.ts';
import { defaultServices, resolveInputs, type AnyStep, type OutputValue, type StepServices } from '../steps/index.ts';
import { formatFailure, type Logger } from '../util/index.ts';

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
  /** Replaces any of the services the door builds (tests: a stand-in's GitHub, a simulator's cluster). */
  readonly services?: Partial<StepServices>;
  /** Runs before the inputs are read, inside the error path (the bundle entry unpacks MODELSHIP_INPUTS). */
  readonly prepare?: () => void;
}

/** Runs one step as a GitHub Action. Never throws; the outcome is in the step's status. */
export async function runAction(step: AnyStep, deps: ActionDeps = {}): Promise<void> {
  const log = deps.log ?? actionsLogger();
  try {
    deps.prepare?.();
    const raw: Record<string, string> = {};
    for (const [name, decl] of Object.entries(step.inputs)) {
      raw[name] = core.getInput(name);
      if (decl.secret && raw[name]) core.setSecret(raw[name]);
    }
    const env = deps.env ?? process.env;
    const cwd = deps.cwd ?? process.cwd();
    const { inputs, config } = await resolveInputs(step, raw, cwd);
    const services: StepServices = {
      ...defaultServices({ env, cwd, log, ...(deps.now ? { now: deps.now } : {}), dataCache: actionsDataCache(env, log) }),
      ...deps.services,
    };
    const result = await step.run(inputs, { ...services, config });
    for (const name of Object.keys(step.outputs)) {
      const value = (result.outputs as Record<string, OutputValue | undefined>)[name];
      if (value !== undefined) core.setOutput(name, String(value));
    }
    if (result.summary && env['GITHUB_STEP_SUMMARY']) {
      await core.summary.addRaw(result.summary, true).write();
    }
    if (result.failure) core.setFailed(`${step.name} failed: ${result.failure}`);
  } catch (err) {
    core.setFailed(formatFailure(step.name, err));
  }
}
