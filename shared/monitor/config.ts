/**
 * The `monitor:` section of modelship.yml: the monitor-check inputs under their own names, plus
 * `queries`, named PromQL (`name: promql`, `$selector` and `$window` filled in per check). To be
 * merged into shared/config/schema.ts by the lead (it replaces today's monitorSection there).
 */
import { z } from 'zod';

const lines = z.union([z.string(), z.array(z.string())]);
const duration = z.string().regex(/^(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?$/, 'a duration such as 90s, 5m, 1h');

export const monitorSection = z.strictObject({
  prometheus: z.string().url().optional(),
  endpoint: lines.optional(),
  slos: lines.optional(),
  'drift-limits': lines.optional(),
  reference: z.string().optional(),
  window: duration.optional(),
  version: z.union([z.string(), z.number().int().nonnegative()]).optional(),
  'no-data': z.enum(['fail', 'warn', 'pass']).optional(),
  'on-breach': z.enum(['fail', 'dispatch', 'report']).optional(),
  'retrain-workflow': z.string().optional(),
  'retrain-ref': z.string().optional(),
  'retrain-inputs': z.union([z.string(), z.record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))]).optional(),
  cooldown: duration.optional(),
  'drift-min-count': z.number().int().nonnegative().optional(),
  /**
   * Named PromQL: a mapping (`queue_p95_ms: 1000 * histogram_quantile(…)`) or `name: promql` lines.
   * The config loader must hand a mapping to the step as `name: promql` lines (one per entry).
   */
  queries: z.union([z.record(z.string().regex(/^[a-z_][a-z0-9_]*$/), z.string().min(1)), lines]).optional(),
});

export type MonitorSection = z.infer<typeof monitorSection>;

/** The queries of a monitor section as `name: promql` lines, whichever form the file used. */
export function queryLines(queries: MonitorSection['queries']): string[] {
  if (queries === undefined) return [];
  if (typeof queries === 'string') return queries.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (Array.isArray(queries)) return queries;
  return Object.entries(queries).map(([k, v]) => `${k}: ${v.replace(/\s*\n\s*/g, ' ')}`);
}
