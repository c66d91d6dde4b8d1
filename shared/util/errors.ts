/**
 * One error path for the whole suite.
 *
 * A `ConfigurationError` is the user's mistake: it names what is wrong (an input, a file, a key)
 * and says how to fix it. Everything else is a failure of the world (network, disk, a service)
 * or a bug. Both reach people through `formatFailure`, as two lines: what failed, what to do.
 */
export class ConfigurationError extends Error {
  override readonly name = 'ConfigurationError';
  /** What to do about it, shown on the second line. */
  readonly hint: string | undefined;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.hint = hint;
  }
}

/** A failure that is not the user's configuration, but still has a known remedy worth saying. */
export class ModelshipError extends Error {
  override readonly name = 'ModelshipError';
  readonly hint: string | undefined;
  constructor(message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.hint = hint;
  }
}

/** Any thrown value, `unknown` included, as a message. */
export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === 'string') return err;
  try {
    return JSON.stringify(err) ?? String(err);
  } catch {
    return String(err);
  }
}

/** `<step> failed: <message>` and, where there is one, the hint on the next line. */
export function formatFailure(step: string, err: unknown): string {
  const message = errorMessage(err);
  const hint = err instanceof ConfigurationError || err instanceof ModelshipError ? err.hint : undefined;
  return hint ? `${step} failed: ${message}\n  ${hint}` : `${step} failed: ${message}`;
}
