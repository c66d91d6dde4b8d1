/** The kinds the simulator serves. deploy-rollout adds Deployments, ReplicaSets and Services here. */
import { jobType } from './jobs.ts';
import { podType } from './pods.ts';
import type { ResourceType } from './types.ts';

export { apiVersionOf, typeKey, type ResourceType } from './types.ts';
export { podType } from './pods.ts';
export { jobType } from './jobs.ts';

export const builtinResources: readonly ResourceType[] = [podType, jobType];
