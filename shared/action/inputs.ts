import { ConfigurationError } from '../util/index.ts';

/**
 * Composite actions (train) cannot hand their inputs to a node process as INPUT_* variables, so
 * they pass `toJSON(inputs)` as MODELSHIP_INPUTS; this turns it into INPUT_* variables. Inputs the
 * composite wires explicitly (INPUT_DATASET: the previous step's output) win.
 */
export function unpackInputs(env: NodeJS.ProcessEnv = process.env): void {
  const packed = env['MODELSHIP_INPUTS'];
  if (!packed) return;
  let values: unknown;
  try {
    values = JSON.parse(packed);
  } catch (err) {
    throw new ConfigurationError(
      `MODELSHIP_INPUTS is not JSON (${(err as Error).message}).`,
      "Pass it as MODELSHIP_INPUTS: ${{ toJSON(inputs) }} in the composite action's step.",
    );
  }
  if (values === null || typeof values !== 'object' || Array.isArray(values))
    throw new ConfigurationError('MODELSHIP_INPUTS is not a JSON object of inputs.', 'Pass it as MODELSHIP_INPUTS: ${{ toJSON(inputs) }}.');
  for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
    const key = `INPUT_${k.replace(/ /g, '_').toUpperCase()}`;
    if (typeof v === 'string' && env[key] === undefined) env[key] = v;
  }
}
