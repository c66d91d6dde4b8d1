/**
 * A resource type: everything the generic REST layer and the store need to know about a kind.
 * Adding a kind (Deployment, ReplicaSet, Service) is adding a `ResourceType` and registering it.
 */
import type { StatusCause } from '../errors.ts';
import type { KubeObject } from '../types.ts';

export interface ResourceType {
  /** API group, '' for the core group (`/api/v1`). */
  readonly group: string;
  readonly version: string;
  /** The path segment: `pods`, `jobs`. */
  readonly plural: string;
  readonly kind: string;
  readonly namespaced: boolean;
  /** Field selector paths the server accepts besides metadata.name and metadata.namespace. */
  readonly selectableFields: readonly string[];
  /** When true, PUT/PATCH on the object ignore `status`, and `/status` changes only `status`. */
  readonly statusSubresource: boolean;
  /** DELETE answers with the deleted object (pods) rather than a Success Status (most kinds). */
  readonly returnDeletedObject: boolean;
  /** What happens to dependents when DELETE names no propagationPolicy. */
  readonly defaultPropagation: 'Orphan' | 'Background' | 'Foreground';
  /** Defaulting at creation (the API server's defaulting and admission), after uid and name are set. */
  readonly prepareForCreate?: (obj: KubeObject) => void;
  /** Validation at creation and update; a non-empty list answers 422 Invalid. */
  readonly validate?: (obj: KubeObject) => StatusCause[];
}

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

export function typeKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}
