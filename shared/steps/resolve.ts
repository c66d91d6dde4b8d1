import { configInputs, EMPTY_CONFIG, loadConfig, parseInputs, type ParsedInputs, type ProjectConfig } from '../config/index.ts';
import { configSchema } from './config.ts';
import { allSteps } from './index.ts';
import type { AnyStep } from './spec.ts';

/**
 * The one parse of a step's inputs, for both doors. Layers, lowest first: the declared defaults,
 * the modelship.yml section of the step (when the step has a `config` input), the explicit values.
 * Returns the loaded file too, for the settings of the section that are not inputs.
 */
export async function resolveInputs<S extends AnyStep>(
  step: S,
  explicit: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Promise<{ inputs: ParsedInputs<S['inputs']>; config: ProjectConfig }> {
  const given: Record<string, string> = {};
  for (const [k, v] of Object.entries(explicit)) if (v !== undefined && v !== '') given[k] = v;
  let fromConfig: Record<string, string> = {};
  let config = EMPTY_CONFIG;
  if ('config' in step.inputs) {
    config = (await loadConfig(given['config'], cwd, configSchema(allSteps))).config;
    fromConfig = configInputs(config, step.configSection, step.configRename, step.inputs);
    for (const k of Object.keys(fromConfig)) if (!(k in step.inputs)) delete fromConfig[k];
  }
  return { inputs: parseInputs(step.inputs, { ...fromConfig, ...given }), config };
}
