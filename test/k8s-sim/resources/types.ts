/**
 * A resource type: everything the generic REST layer and the store need to know about a kind.
 * Adding a kind (Deployment, ReplicaSet, Service) is adding a `ResourceType` and registering it.
 */
import type { StatusCause } from '../errors.ts';
import type { KubeObject } from '../types.ts';

/** The `/scale` subresource of a kind (Deployments, ReplicaSets): an autoscaling/v1 Scale view. */
export interface ScaleSubresource {
  /** The object's desired replicas (spec.replicas). */
  specReplicas(o: KubeObject): number;
  /** The replicas the controller observed (status.replicas). */
  statusReplicas(o: KubeObject): number;
  /** The label selector as a string (`app=web,tier in (a)`), as Scale.status.selector shows it. */
  selector(o: KubeObject): string;
  setReplicas(o: KubeObject, replicas: number): void;
}

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
  /** Discovery: short names (`deploy`, `svc`) and categories (`all`). */
  readonly shortNames?: readonly string[];
  readonly categories?: readonly string[];
  /** A `/scale` subresource, as Deployments and ReplicaSets have. */
  readonly scale?: ScaleSubresource;
  /**
   * The status subresource may also change `metadata.annotations` (the Deployment status strategy
   * resets only spec and labels: the deployment controller writes its revision annotation that way).
   */
  readonly statusWritesAnnotations?: boolean;
  /** Defaulting at creation (the API server's defaulting and admission), after uid and name are set. */
  readonly prepareForCreate?: (obj: KubeObject) => void;
  /**
   * Defaulting on every write of the object (create and update, not status): the API server
   * defaults what it decodes, so a field a client leaves out comes back with its default.
   */
  readonly defaults?: (obj: KubeObject) => void;
  /** Before an update is stored: carry over what the server allocated (a Service's clusterIP), fold stringData. */
  readonly prepareForUpdate?: (next: KubeObject, old: KubeObject) => void;
  /** Validation at creation and update; a non-empty list answers 422 Invalid. */
  readonly validate?: (obj: KubeObject) => StatusCause[];
  /** Validation of an update against the stored object (immutable fields); 422 Invalid. */
  readonly validateUpdate?: (next: KubeObject, old: KubeObject) => StatusCause[];
}

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

export function typeKey(group: string, version: string, plural: string): string {
  return `${group}/${version}/${plural}`;
}
