/**
 * API errors as the API server returns them: a `Status` object with the HTTP code, a machine
 * reason (NotFound, AlreadyExists, Conflict, Invalid, BadRequest, ...) and the server's message.
 */
import type { ResourceType } from './resources/index.ts';

export interface StatusCause {
  reason?: string;
  message: string;
  field?: string;
}

export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: string;
  details?: { name?: string; group?: string; kind?: string; uid?: string; causes?: StatusCause[]; retryAfterSeconds?: number };
  code: number;
}

export class ApiError extends Error {
  readonly code: number;
  readonly reason: string;
  readonly details: StatusObject['details'];
  constructor(code: number, reason: string, message: string, details?: StatusObject['details']) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): StatusObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

/** `jobs.batch` or `pods`: the "qualified resource" the API server names in its messages. */
export function qualified(type: ResourceType): string {
  return type.group ? `${type.plural}.${type.group}` : type.plural;
}

export function notFound(type: ResourceType, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${qualified(type)} "${name}" not found`, { name, group: type.group, kind: type.plural });
}

export function alreadyExists(type: ResourceType, name: string): ApiError {
  return new ApiError(409, 'AlreadyExists', `${qualified(type)} "${name}" already exists`, { name, group: type.group, kind: type.plural });
}

export function conflict(type: ResourceType, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${qualified(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    { name, group: type.group, kind: type.plural },
  );
}

export function invalid(type: ResourceType, name: string, causes: StatusCause[]): ApiError {
  const list = causes.map((c) => `${c.field ?? ''}: ${c.message}`).join(', ');
  return new ApiError(
    422,
    'Invalid',
    `${type.kind}${type.group ? `.${type.group}` : ''} "${name}" is invalid: ${causes.length > 1 ? `[${list}]` : list}`,
    {
      name,
      group: type.group,
      kind: type.kind,
      causes: causes.map((c) => ({ reason: c.reason ?? 'FieldValueInvalid', message: c.message, ...(c.field ? { field: c.field } : {}) })),
    },
  );
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function gone(message: string): ApiError {
  return new ApiError(410, 'Expired', message);
}

/** The Status bodies of the API server's 5xx (and 429) answers, as a fault injects them. */
export function serverError(code: 500 | 503 | 504 | 429, message?: string, retryAfterSeconds?: number): ApiError {
  switch (code) {
    case 500: {
      const m = message ?? 'etcdserver: request timed out';
      return new ApiError(500, 'InternalError', `Internal error occurred: ${m}`, { causes: [{ message: m }] });
    }
    case 503:
      return new ApiError(503, 'ServiceUnavailable', message ?? 'the server is currently unable to handle the request');
    case 504:
      return new ApiError(
        504,
        'Timeout',
        `Timeout: ${message ?? 'request did not complete within requested timeout - context deadline exceeded'}`,
        {},
      );
    case 429:
      return new ApiError(
        429,
        'TooManyRequests',
        message ?? 'the server has received too many requests and has asked us to try again later',
        retryAfterSeconds !== undefined ? { retryAfterSeconds } : {},
      );
  }
}
