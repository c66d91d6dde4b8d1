/** v1 Events (written by the kubelet and the controllers through controllers/events.ts). */
import type { ResourceType } from './types.ts';

export const eventType: ResourceType = {
  group: '',
  version: 'v1',
  plural: 'events',
  kind: 'Event',
  namespaced: true,
  selectableFields: [
    'involvedObject.kind',
    'involvedObject.namespace',
    'involvedObject.name',
    'involvedObject.uid',
    'involvedObject.apiVersion',
    'involvedObject.resourceVersion',
    'involvedObject.fieldPath',
    'reason',
    'reportingComponent',
    'source',
    'type',
  ],
  statusSubresource: false,
  returnDeletedObject: false,
  defaultPropagation: 'Background',
  shortNames: ['ev'],
};
