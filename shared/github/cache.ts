/**
 * The Actions cache behind setup-data's small `DataCache` interface. Used only when the step runs
 * as an action and the runner provides the cache service (its URL and runtime token); everywhere
 * else setup-data works without it.
 */
import * as cache from '@actions/cache';
import type { DataCache } from '../data/index.ts';
import type { Logger } from '../util/index.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** True when the runner gives this job a cache service (as @actions/cache checks it). */
export function cacheServiceAvailable(env: Env): boolean {
  if (!env['ACTIONS_RUNTIME_TOKEN']) return false;
  return Boolean(env['ACTIONS_RESULTS_URL'] || env['ACTIONS_CACHE_URL']);
}

/** The Actions cache, or undefined when it cannot be used here (CLI, or no cache service). */
export function actionsDataCache(via: 'action' | 'cli', env: Env, log: Logger): DataCache | undefined {
  if (via !== 'action' || !cacheServiceAvailable(env)) {
    log.debug('Actions cache not used (not running as an action, or no cache service in this job).');
    return undefined;
  }
  return {
    async restore(dir, key) {
      return (await cache.restoreCache([dir], key)) === key;
    },
    async save(dir, key) {
      try {
        await cache.saveCache([dir], key);
      } catch (err) {
        // Another job saved the same key first: the content is the same, nothing to do.
        if (err instanceof cache.ReserveCacheError) log.info(`Actions cache: ${err.message}`);
        else throw err;
      }
    },
  };
}
