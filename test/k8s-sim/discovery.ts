/**
 * Discovery as clients use it to find out what a server serves: `/api` (APIVersions), `/apis`
 * (APIGroupList), `/apis/<group>` (APIGroup) and the resource lists `/api/v1`,
 * `/apis/<group>/<version>` (APIResourceList, with the status/scale/log/proxy subresources).
 * A group the server does not serve answers 404, as a cluster without that CRD does.
 */
import type { ResourceType } from './resources/index.ts';

const VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];

interface GroupVersion {
  groupVersion: string;
  version: string;
}

function groups(types: readonly ResourceType[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const t of types) {
    if (!t.group) continue;
    const versions = out.get(t.group) ?? [];
    if (!versions.includes(t.version)) versions.push(t.version);
    out.set(t.group, versions);
  }
  return out;
}

function group(name: string, versions: string[]): { name: string; versions: GroupVersion[]; preferredVersion: GroupVersion } {
  const list = versions.map((v) => ({ groupVersion: `${name}/${v}`, version: v }));
  return { name, versions: list, preferredVersion: list[0] };
}

/** `/api`. */
export function apiVersions(serverAddress: string): unknown {
  return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] };
}

/** `/apis`. */
export function apiGroupList(types: readonly ResourceType[]): unknown {
  return {
    kind: 'APIGroupList',
    apiVersion: 'v1',
    groups: [...groups(types)].sort(([a], [b]) => (a < b ? -1 : 1)).map(([name, versions]) => group(name, versions)),
  };
}

/** `/apis/<group>`, or undefined when the group is not served. */
export function apiGroup(types: readonly ResourceType[], name: string): unknown {
  const versions = groups(types).get(name);
  if (!versions) return undefined;
  return { kind: 'APIGroup', apiVersion: 'v1', ...group(name, versions) };
}

/** `/api/v1` or `/apis/<group>/<version>`, or undefined when not served. */
export function apiResourceList(types: readonly ResourceType[], groupName: string, version: string): unknown {
  const served = types.filter((t) => t.group === groupName && t.version === version);
  if (served.length === 0) return undefined;
  const resources: Record<string, unknown>[] = [];
  for (const t of served) {
    resources.push({
      name: t.plural,
      singularName: t.kind.toLowerCase(),
      namespaced: t.namespaced,
      kind: t.kind,
      verbs: VERBS,
      ...(t.shortNames ? { shortNames: [...t.shortNames] } : {}),
      ...(t.categories ? { categories: [...t.categories] } : {}),
    });
    const sub = (name: string, kind: string, verbs: string[], extra: Record<string, unknown> = {}): void => {
      resources.push({ name: `${t.plural}/${name}`, singularName: '', namespaced: t.namespaced, ...extra, kind, verbs });
    };
    if (t.statusSubresource) sub('status', t.kind, ['get', 'patch', 'update']);
    if (t.scale) sub('scale', 'Scale', ['get', 'patch', 'update'], { group: 'autoscaling', version: 'v1' });
    if (t.group === '' && t.plural === 'pods') {
      sub('log', 'Pod', ['get']);
      sub('proxy', 'PodProxyOptions', ['create', 'delete', 'get', 'patch', 'update']);
    }
    if (t.group === '' && t.plural === 'services') sub('proxy', 'ServiceProxyOptions', ['create', 'delete', 'get', 'patch', 'update']);
  }
  return { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: groupName ? `${groupName}/${version}` : version, resources };
}
