/**
 * modelship.yml: the project file both the CLI and the actions read.
 *
 * Each section holds values for one step's inputs, under the same kebab-case names as the
 * action inputs, so that a value can move between the file and a workflow's `with:` unchanged.
 * Unknown keys and wrong types are errors that name the key and the file.
 */
import { z } from 'zod';

const num = z.number().finite();
const lines = z.union([z.string(), z.array(z.string())]);

export const dataSection = z.strictObject({
  source: z.string().min(1),
  format: z.enum(['auto', 'image-folder', 'idx', 'csv']).optional(),
  'label-column': z.string().min(1).optional(),
  split: z.string().optional(),
  'split-seed': z.union([z.string(), num]).optional(),
  'image-size': z.string().optional(),
  checksum: z.string().optional(),
  cache: z.boolean().optional(),
  'output-dir': z.string().optional(),
});

export const trainSection = z.strictObject({
  architecture: z.string().optional(),
  epochs: z.number().int().positive().optional(),
  'batch-size': z.number().int().positive().optional(),
  'learning-rate': num.positive().optional(),
  seed: z.number().int().nonnegative().optional(),
  backend: z.enum(['auto', 'node', 'wasm', 'cpu']).optional(),
  'early-stopping-patience': z.number().int().nonnegative().optional(),
  target: z.enum(['local', 'kubernetes']).optional(),
  'output-dir': z.string().optional(),
  kubernetes: z
    .strictObject({
      namespace: z.string().optional(),
      image: z.string().optional(),
      cpu: z.string().optional(),
      memory: z.string().optional(),
      'service-account': z.string().optional(),
      kubeconfig: z.string().optional(),
      context: z.string().optional(),
      /** pvc:<claim> or host:<absolute path>: the volume the data set and model travel through. */
      volume: z.string().optional(),
      'mount-path': z.string().optional(),
      'local-path': z.string().optional(),
      'timeout-seconds': z.number().int().positive().optional(),
      'pending-timeout-seconds': z.number().int().positive().optional(),
      'ttl-seconds-after-finished': z.number().int().nonnegative().optional(),
    })
    .optional(),
});

export const gateSection = z.strictObject({
  baseline: z.string().optional(),
  thresholds: lines.optional(),
  'max-regression': lines.optional(),
  significance: num.gt(0).lt(1).optional(),
  comment: z.enum(['auto', 'true', 'false']).optional(),
  'fail-on-gate': z.boolean().optional(),
  'report-dir': z.string().optional(),
});

export const registrySection = z.strictObject({
  url: z.string().min(1).optional(),
  alias: lines.optional(),
  username: z.string().optional(),
});

export const deploySection = z.strictObject({
  target: z.enum(['kubernetes', 'local']).optional(),
  strategy: z.enum(['rolling', 'canary']).optional(),
  namespace: z.string().optional(),
  steps: lines.optional(),
  analysis: lines.optional(),
  image: z.string().optional(),
  replicas: z.number().int().positive().optional(),
});

export const monitorSection = z.strictObject({
  prometheus: z.string().optional(),
  slos: lines.optional(),
  'drift-limits': lines.optional(),
  window: z.string().optional(),
  'retrain-workflow': z.string().optional(),
});

export const projectConfigSchema = z.strictObject({
  version: z.literal(1).optional(),
  /** The model's name: the registry repository, the PR comment's key. */
  name: z
    .string()
    .regex(/^[a-z0-9]+(?:[._-][a-z0-9]+)*$/, 'lower-case letters, digits and single . _ - between them')
    .optional(),
  data: dataSection.optional(),
  train: trainSection.optional(),
  gate: gateSection.optional(),
  registry: registrySection.optional(),
  deploy: deploySection.optional(),
  monitor: monitorSection.optional(),
});

export type ProjectConfig = z.infer<typeof projectConfigSchema>;
export type ConfigSection = Exclude<keyof ProjectConfig, 'version' | 'name'>;
