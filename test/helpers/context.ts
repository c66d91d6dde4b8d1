/**
 * A step context for tests that run a step's `run` directly: the services both doors build
 * (steps/services.ts), a memory logger, a fixed clock, and any service replaced.
 */
import { EMPTY_CONFIG, type ProjectConfig } from '../../shared/config/index.ts';
import { defaultServices, type StepContext, type StepServices } from '../../shared/steps/index.ts';
import { memoryLogger } from '../../shared/util/index.ts';

export function testContext(
  opts: {
    cwd: string;
    env?: Readonly<Record<string, string | undefined>>;
    now?: () => Date;
    config?: ProjectConfig;
  } & Partial<Omit<StepServices, 'cwd' | 'env' | 'now'>>,
): StepContext & { log: ReturnType<typeof memoryLogger> } {
  const log = (opts.log as ReturnType<typeof memoryLogger> | undefined) ?? memoryLogger();
  const { cwd, env = {}, now, config, ...services } = opts;
  return {
    ...defaultServices({ env, cwd, log, ...(now ? { now } : {}) }),
    // Tests do not take over the test runner's signals.
    interrupt: () => new AbortController().signal,
    ...services,
    log,
    config: config ?? EMPTY_CONFIG,
  };
}
