/**
 * Kubernetes API failures as modelship errors: the API server's `Status` (code, reason, message)
 * when there is one, the network cause otherwise, with what to do about the common ones.
 */
import { ModelshipError, errorMessage } from '../util/index.ts';

export interface ApiStatus {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
}

/** The client's own words for an error without a Status body ("Message: Unauthorized"). */
function clientMessage(err: unknown): string {
  if (!(err instanceof Error)) return '';
  const line = err.message.split('\n').find((l) => l.startsWith('Message: '));
  if (line) return line.slice('Message: '.length).replace(/^Unknown API Status Code!$/, '');
  return err.message.startsWith('HTTP-Code') ? '' : (err.message.split('\n')[0] ?? '');
}

/** The Status behind an error thrown by @kubernetes/client-node, if it came from the API server. */
export function apiStatus(err: unknown): ApiStatus | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { code?: unknown; body?: unknown; statusCode?: unknown };
  // ApiException carries `code` and `body`; the watch's HTTP errors carry `statusCode`. Other
  // errors with a numeric code (a DOMException TimeoutError has code 23) are not API answers.
  const http = (v: unknown): v is number => typeof v === 'number' && v >= 100 && v <= 599;
  const code = http(e.statusCode) ? e.statusCode : http(e.code) && 'body' in e && !(err instanceof DOMException) ? e.code : undefined;
  if (code === undefined) return undefined;
  let body: unknown = e.body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      body = undefined;
    }
  }
  const b = (typeof body === 'object' && body !== null ? body : {}) as { reason?: unknown; message?: unknown };
  return {
    code,
    reason: typeof b.reason === 'string' ? b.reason : '',
    message: typeof b.message === 'string' ? b.message : clientMessage(err),
  };
}

export const isNotFound = (err: unknown): boolean => apiStatus(err)?.code === 404;
function networkCause(err: unknown): string | undefined {
  let cur: unknown = err;
  for (let i = 0; i < 5 && cur; i++) {
    const code = (cur as { code?: unknown }).code;
    if (typeof code === 'string' && /^E[A-Z]+/.test(code)) return code;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

/**
 * `what` says what was being done ("create Job fashion-train-x7k2 in namespace ml"). The result's
 * message names the API server's answer; its hint says what to do.
 */
export function kubeError(what: string, err: unknown, server?: string): ModelshipError {
  if (err instanceof ModelshipError) return err;
  const s = apiStatus(err);
  if (s) {
    const detail = s.message ? `: ${s.message}` : '';
    const head = `cannot ${what} (HTTP ${s.code}${s.reason ? ` ${s.reason}` : ''})${detail}`;
    const hints: Record<number, string> = {
      401: 'The cluster rejected the credentials: refresh the kubeconfig (tokens expire) or check the user of the current context.',
      403: 'The user or service account lacks RBAC permission: it needs create/get/watch/delete on jobs (batch) and get/list/watch on pods and pods/log in this namespace.',
      404: 'Check the namespace exists and the name is right.',
      409:
        s.reason === 'AlreadyExists'
          ? 'An object with this name exists: delete it, or let modelship generate the name.'
          : 'Someone changed the object meanwhile: retry.',
      422: 'The manifest was rejected by validation: see the message for the field.',
    };
    return new ModelshipError(head, hints[s.code], { cause: err });
  }
  const net = networkCause(err);
  if (net)
    return new ModelshipError(
      `cannot ${what}: the Kubernetes API${server ? ` at ${server}` : ''} is unreachable (${net}).`,
      'Check the kubeconfig context points at a running cluster and this runner can reach it.',
      { cause: err },
    );
  return new ModelshipError(`cannot ${what}: ${errorMessage(err).split('\n')[0]}`, undefined, { cause: err });
}
