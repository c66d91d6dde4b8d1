/**
 * An error with an HTTP status, thrown by request handlers and answered as `{"error": message}`
 * (the shape both TF Serving's REST API and the Open Inference Protocol use).
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  readonly status: number;
  /** Extra response headers (Allow for 405, Retry-After for 503). */
  readonly headers: Readonly<Record<string, string>>;
  constructor(status: number, message: string, headers: Readonly<Record<string, string>> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

export const badRequest = (message: string): HttpError => new HttpError(400, message);
export const notFound = (message: string): HttpError => new HttpError(404, message);

/** A JSON value shortened for an error message (TF Serving echoes the offending value). */
export function preview(value: unknown, max = 120): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
