/**
 * The registry domain: models stored as OCI artifacts, in a local folder (OCI image layout) or any
 * OCI distribution registry (GHCR, Docker Hub, Harbor, ECR, self-hosted).
 *
 *   const reg = await openRegistry('.modelship/registry', { log });
 *   const prod = await reg.resolve('fashion@production');   // { version, digest, … }
 *   await reg.pull(prod, 'baseline-model');
 *
 * `openRegistry` picks the transport from the location; adding one (MLflow) is adding a file
 * and a branch here.
 */
import { parseLocation } from './reference.ts';
import type { OpenOptions, Registry } from './types.ts';

export * from './reference.ts';
export type * from './types.ts';
export { isNotFound, NotFoundError } from './oci-registry.ts';

/** Opens the registry at a location: a local folder or `oci://host[:port][/path]`. */
export async function openRegistry(location: string, opts: OpenOptions): Promise<Registry> {
  const loc = parseLocation(location, opts.cwd ?? process.cwd());
  const { OciRegistry } = await import('./oci-registry.ts');
  if (loc.kind === 'local') {
    const { LayoutStore } = await import('./layout.ts');
    return new OciRegistry(loc, new LayoutStore(loc.dir, opts.log), opts);
  }
  const { DistributionStore } = await import('./distribution.ts');
  return new OciRegistry(loc, new DistributionStore(loc, opts), opts);
}
export { modelName, registerModel, type RegisterRequest, type RegisterResult } from './register.ts';
