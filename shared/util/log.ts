/**
 * The logger every core function receives. Actions back it with @actions/core (groups, masking,
 * annotations); the CLI backs it with stderr. Tests pass a recorder.
 */
export interface Logger {
  info(message: string): void;
  warning(message: string): void;
  debug(message: string): void;
  /** Runs `fn` inside a collapsible log group. */
  group<T>(title: string, fn: () => Promise<T>): Promise<T>;
  /** Hides a secret in every later line of the log. */
  secret(value: string): void;
}

export function consoleLogger(stream: NodeJS.WritableStream = process.stderr, verbose = false): Logger {
  const write = (line: string): void => {
    stream.write(`${line}\n`);
  };
  const secrets: string[] = [];
  const mask = (s: string): string => secrets.reduce((acc, v) => acc.split(v).join('***'), s);
  return {
    info: (m) => write(mask(m)),
    warning: (m) => write(mask(`warning: ${m}`)),
    debug: (m) => {
      if (verbose) write(mask(`debug: ${m}`));
    },
    group: async (title, fn) => {
      write(mask(`▸ ${title}`));
      return fn();
    },
    secret: (v) => {
      if (v) secrets.push(v);
    },
  };
}

/** A logger that keeps every line, for tests. */
export function memoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(m),
    warning: (m) => lines.push(`warning: ${m}`),
    debug: (m) => lines.push(`debug: ${m}`),
    group: async (title, fn) => {
      lines.push(`▸ ${title}`);
      return fn();
    },
    secret: () => undefined,
  };
}

export const silentLogger: Logger = {
  info: () => undefined,
  warning: () => undefined,
  debug: () => undefined,
  group: async (_t, fn) => fn(),
  secret: () => undefined,
};
