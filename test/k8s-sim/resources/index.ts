/** The kinds the simulator serves. HTTPRoute is added only with the Gateway API switched on. */
import { deploymentType, replicaSetType } from './apps.ts';
import { configMapType, namespaceType } from './core.ts';
import { eventType } from './events.ts';
import { jobType } from './jobs.ts';
import { podType } from './pods.ts';
import { secretType } from './secrets.ts';
import { endpointSliceType, serviceType } from './services.ts';
import type { ResourceType } from './types.ts';

export { apiVersionOf, typeKey, type ResourceType, type ScaleSubresource } from './types.ts';
export { podType } from './pods.ts';
export { jobType } from './jobs.ts';
export { deploymentType, replicaSetType, selectorString } from './apps.ts';
export { endpointSliceType, serviceType } from './services.ts';
export { secretType, secretValue } from './secrets.ts';
export { eventType } from './events.ts';
export { configMapType, namespaceType } from './core.ts';
export { httpRouteType, type BackendRef, type HTTPRoute } from './gateway.ts';

export const builtinResources: readonly ResourceType[] = [
  namespaceType,
  podType,
  serviceType,
  secretType,
  configMapType,
  eventType,
  jobType,
  deploymentType,
  replicaSetType,
  endpointSliceType,
];
