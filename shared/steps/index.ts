/** The steps: one definition per action and CLI command. The doors (shared/action, shared/cli) run them. */
import { deployRolloutStep } from './deploy-rollout.ts';
import { evaluateGateStep } from './evaluate-gate.ts';
import { monitorCheckStep } from './monitor-check.ts';
import { registerStep } from './register.ts';
import { setupDataStep } from './setup-data.ts';
import type { AnyStep } from './spec.ts';
import { trainStep } from './train.ts';
import { verifyStep } from './verify.ts';

/** Every step, by the name its action folder and CLI command carry. */
export const steps: Readonly<Record<string, AnyStep>> = {
  'setup-data': setupDataStep,
  train: trainStep,
  'evaluate-gate': evaluateGateStep,
  register: registerStep,
  'deploy-rollout': deployRolloutStep,
  'monitor-check': monitorCheckStep,
  verify: verifyStep,
};

export const allSteps: readonly AnyStep[] = Object.values(steps);

export { setupDataStep, trainStep, evaluateGateStep, registerStep, deployRolloutStep, monitorCheckStep, verifyStep };
export { configSchema, configSections } from './config.ts';
export { resolveInputs } from './resolve.ts';
export { modelshipCodeVersion, producedBy, runCache, type CacheEntry, type RunCache } from './run-cache.ts';
export { defaultServices } from './services.ts';
export type { AnyStep, KubeFactory, OutputValue, StepContext, StepResult, StepServices, StepSpec } from './spec.ts';
