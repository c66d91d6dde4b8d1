/**
 * The Actions cache behind setup-data's small `DataCache` interface. The Actions door hands it to
 * the steps when the runner provides the cache service (its URL and runtime token); everywhere
 * else there is no cache and setup-data works without it. @actions/cache loads on first use.
 */
import type { DataCache } from '../data/index.ts';
import type { Logger } from '../util/index.ts';

type Env = Readonly<Record<string, string | undefined>>;

/** True when the runner gives this job a cache service (as @actions/cache checks it). */
export function cacheServiceAvailable(env: Env): boolean {
  if (!env['ACTIONS_RUNTIME_TOKEN']) return false;
  return Boolean(env['ACTIONS_RESULTS_URL'] || env['ACTIONS_CACHE_URL']);
}

/** The Actions cache, or undefined when this job has no cache service. */
export function actionsDataCache(env: Env, log: Logger): DataCache | undefined {
  if (!cacheServiceAvailable(env)) {
    log.debug('Actions cache not used: this job has no cache service.');
    return undefined;
  }
  return {
    async restore(dir, key) {
      const cache = await import('@actions/cache');
      return (await cache.restoreCache([dir], key)) === key;
    },
    async save(dir, key) {
      const cache = await import('@actions/cache');
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
