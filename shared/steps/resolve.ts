import { configInputs, loadConfig } from '../config/index.ts';
import { parseInputs, type ParsedInputs } from './inputs.ts';
import type { AnyStep } from './spec.ts';

/**
 * The one parse of a step's inputs, for both doors. Layers, lowest first: the declared defaults,
 * the modelship.yml section of the step (when the step has a `config` input), the explicit values.
 */
export async function resolveInputs<S extends AnyStep>(
  step: S,
  explicit: Readonly<Record<string, string | undefined>>,
  cwd: string,
): Promise<ParsedInputs<S['inputs']>> {
  const given: Record<string, string> = {};
  for (const [k, v] of Object.entries(explicit)) if (v !== undefined && v !== '') given[k] = v;
  let fromConfig: Record<string, string> = {};
  if ('config' in step.inputs) {
    const { config } = await loadConfig(given['config'], cwd);
    fromConfig = configInputs(config, step.configSection, step.configRename);
    for (const k of Object.keys(fromConfig)) if (!(k in step.inputs)) delete fromConfig[k];
  }
  return parseInputs(step.inputs, { ...fromConfig, ...given });
}
