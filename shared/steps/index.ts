import { deployRolloutStep } from './deploy-rollout.ts';
import { evaluateGateStep } from './evaluate-gate.ts';
import { monitorCheckStep } from './monitor-check.ts';
import { registerStep } from './register.ts';
import { setupDataStep } from './setup-data.ts';
import type { AnyStep } from './spec.ts';
import { trainStep } from './train.ts';

/** Every step, by the name its action folder and CLI command carry. */
export const steps: Readonly<Record<string, AnyStep>> = {
  'setup-data': setupDataStep,
  train: trainStep,
  'evaluate-gate': evaluateGateStep,
  register: registerStep,
  'deploy-rollout': deployRolloutStep,
  'monitor-check': monitorCheckStep,
};

export { setupDataStep, trainStep, evaluateGateStep, registerStep, deployRolloutStep, monitorCheckStep };
export { type InputDecls } from './inputs.ts';
export { resolveInputs } from './resolve.ts';
export { type AnyStep, type OutputValue, type StepContext, type StepResult } from './spec.ts';
