/**
 * `modelship pipeline`: the loop on one machine, with embedded defaults (a local registry folder).
 * Each step's outputs feed the next, exactly as a workflow passes them between `uses:` steps.
 * An option given to the pipeline goes to every step that declares an input of that name.
 */
import path from 'node:path';
import {
  evaluateGateStep,
  registerStep,
  setupDataStep,
  trainStep,
  type AnyStep,
  type StepResult,
  type StepServices,
} from '../steps/index.ts';
import type { InputDecls } from '../config/index.ts';
import { parseStepArgs } from './args.ts';

type RunStep = (step: AnyStep, raw: Readonly<Record<string, string>>) => Promise<StepResult<string>>;

const loop: readonly AnyStep[] = [setupDataStep, trainStep, evaluateGateStep, registerStep];
/** Inputs the pipeline wires from one step's outputs to the next; not settable from outside. */
const wired = new Set(['dataset', 'model', 'report']);
const own = ['work-dir', 'promote'] as const;

export function pipelineHelp(): string {
  return [
    'modelship pipeline: setup-data → train → evaluate-gate → register, on this machine.',
    '',
    'Reads modelship.yml (or --config). Any step option may be given and goes to the steps that take it',
    '(e.g. --epochs 2, --registry .modelship/registry, --thresholds "accuracy >= 0.8").',
    '  --work-dir   where step outputs go (default .modelship)',
    '  --promote    the alias moved to the new version when the gate passes (default production; "" for none)',
  ].join('\n');
}

export async function runPipeline(
  argv: readonly string[],
  ctx: StepServices,
  runStep: RunStep,
): Promise<{ ok: boolean; outputs: Record<string, Record<string, string>> }> {
  const all: InputDecls = {};
  for (const step of loop) for (const [name, d] of Object.entries(step.inputs)) if (!wired.has(name)) all[name] = d;
  const { values } = parseStepArgs(argv, all, 'pipeline', own);
  const workDir = values['work-dir'] ?? '.modelship';
  const promote = values['promote'] ?? 'production';
  const at = (p: string): string => path.join(workDir, p);
  const pick = (step: AnyStep): Record<string, string> => {
    const out: Record<string, string> = {};
    for (const name of Object.keys(step.inputs)) if (values[name] !== undefined) out[name] = values[name];
    return out;
  };
  const outputs: Record<string, Record<string, string>> = {};
  const run = async (step: AnyStep, raw: Record<string, string>): Promise<StepResult<string>> => {
    const result = await ctx.log.group(`modelship ${step.name}`, () => runStep(step, raw));
    outputs[step.name] = Object.fromEntries(Object.entries(result.outputs).map(([k, v]) => [k, String(v)]));
    for (const [k, v] of Object.entries(outputs[step.name])) ctx.log.info(`  ${k}=${v}`);
    return result;
  };

  const data = await run(setupDataStep, { 'output-dir': at('data'), ...pick(setupDataStep) });
  const dataset = String(data.outputs['dataset-dir']);
  const trained = await run(trainStep, { 'output-dir': at('model'), ...pick(trainStep), dataset });
  const model = String(trained.outputs['model-dir']);
  const gate = await run(evaluateGateStep, {
    'report-dir': at('report'),
    comment: 'false',
    ...pick(evaluateGateStep),
    model,
    dataset,
    'fail-on-gate': 'false',
  });
  if (gate.outputs['passed'] !== true && gate.outputs['passed'] !== 'true') {
    ctx.log.info(`pipeline stopped: the gate did not pass, so the model is not registered. Report: ${String(gate.outputs['markdown'])}`);
    return { ok: false, outputs };
  }
  const alias = [values['alias'], promote].filter((a): a is string => a !== undefined && a !== '').join('\n');
  await run(registerStep, { ...pick(registerStep), model, dataset, report: String(gate.outputs['report']), alias });
  ctx.log.info(`pipeline done: ${outputs['register']?.['ref'] ?? ''}`);
  return { ok: true, outputs };
}
