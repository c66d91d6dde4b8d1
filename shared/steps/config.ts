/**
 * modelship.yml's schema, made from the steps: each step's section is derived from its input
 * declarations (see config/schema.ts), so the file cannot accept what the inputs refuse.
 */
import type { z } from 'zod';
import { projectSchema, type ProjectConfig, type SectionDecl } from '../config/index.ts';
import { serveSection } from '../serve/index.ts';
import type { AnyStep } from './spec.ts';

/** The sections of modelship.yml, by name, from the steps that read them. */
export function configSections(steps: readonly AnyStep[]): Record<string, SectionDecl> {
  const out: Record<string, SectionDecl> = {};
  for (const s of steps) {
    if (!s.configSection) continue;
    out[s.configSection] = {
      inputs: s.inputs,
      ...(s.configRename ? { rename: s.configRename } : {}),
      ...(s.configExtra ? { extra: s.configExtra } : {}),
    };
  }
  return out;
}

const cache = new WeakMap<readonly AnyStep[], z.ZodType<ProjectConfig>>();

/** The schema of the whole file for a set of steps (memoised per set). */
export function configSchema(steps: readonly AnyStep[]): z.ZodType<ProjectConfig> {
  let schema = cache.get(steps);
  if (!schema) {
    // `serve:` belongs to `modelship serve`, which is a command, not a step.
    schema = projectSchema(configSections(steps), { serve: serveSection });
    cache.set(steps, schema);
  }
  return schema;
}
