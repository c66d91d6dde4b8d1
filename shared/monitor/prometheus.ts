/**
 * A client for Prometheus's HTTP API (`/api/v1/query`, `/api/v1/query_range`) over plain fetch,
 * taking the API as it is:
 * - sample values are strings, and `NaN`, `+Inf` and `-Inf` occur: they are parsed to numbers,
 *   never dropped;
 * - `warnings` (and `infos`) can come with data: they are kept beside it;
 * - errors come as 400 (`bad_data`), 422 (`execution`), 503 (`unavailable`, `timeout`) with an
 *   `errorType` and an `error` text: a PrometheusError carrying both;
 * - a timeout, a refused connection or an answer that is not the API's JSON is a PrometheusError
 *   that names the URL.
 * An empty vector is an empty `series` list: the caller decides it is no data, never zero.
 */
import { ModelshipError } from '../util/index.ts';

export type Labels = Readonly<Record<string, string>>;

/** One series of an instant query: its labels and one value. */
export interface InstantSample {
  readonly labels: Labels;
  readonly value: number;
  /** Unix seconds. */
  readonly time: number;
}

/** One series of a range query. */
export interface RangeSeries {
  readonly labels: Labels;
  readonly points: readonly (readonly [time: number, value: number])[];
}

export interface QueryResult<T> {
  readonly series: readonly T[];
  /** 'vector' or 'scalar' for instant queries (a scalar is one series without labels). */
  readonly resultType: string;
  readonly warnings: readonly string[];
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

export interface PrometheusClientOptions {
  /** Base URL, e.g. http://prometheus:9090 (a path prefix such as /prometheus is kept). */
  readonly url: string;
  readonly fetch?: FetchLike;
  /** Per request, default 10 s; also sent to Prometheus as its own query timeout. */
  readonly timeoutMs?: number;
  /** Extra headers (e.g. Authorization for a Prometheus behind a proxy). */
  readonly headers?: Readonly<Record<string, string>>;
}

export type PrometheusFailure = 'unreachable' | 'timeout' | 'http' | 'api' | 'protocol';

/** Prometheus did not give an answer the check can use. Not a breach, and not healthy. */
export class PrometheusError extends ModelshipError {
  readonly url: string;
  readonly failure: PrometheusFailure;
  readonly status: number | undefined;
  /** Prometheus's errorType (bad_data, execution, timeout, unavailable, …) when it sent one. */
  readonly errorType: string | undefined;
  constructor(
    message: string,
    info: { url: string; failure: PrometheusFailure; status?: number; errorType?: string; hint?: string },
    options?: { cause?: unknown },
  ) {
    super(message, info.hint, options);
    this.url = info.url;
    this.failure = info.failure;
    this.status = info.status;
    this.errorType = info.errorType;
  }
}

/** Prometheus's number strings: decimals, exponents, `NaN`, `+Inf`, `-Inf` (any case). Anything else throws. */
export function parseSampleValue(text: unknown): number {
  if (typeof text !== 'string') throw new TypeError(`a sample value must be a string, got ${typeof text}`);
  // As Go's strconv.ParseFloat, which Prometheus parses with: NaN and Inf in any case (prom-client writes `Nan`).
  if (/^nan$/i.test(text)) return NaN;
  const inf = /^([-+]?)inf(inity)?$/i.exec(text);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new TypeError(`'${text}' is not a Prometheus sample value`);
  return Number(text);
}

export interface PrometheusClient {
  readonly url: string;
  /** Requests made so far (for the report's figures). */
  readonly requests: number;
  instant(query: string, time?: Date): Promise<QueryResult<InstantSample>>;
  range(query: string, start: Date, end: Date, stepSeconds: number): Promise<QueryResult<RangeSeries>>;
}

interface ApiBody {
  status?: unknown;
  data?: { resultType?: unknown; result?: unknown };
  errorType?: unknown;
  error?: unknown;
  warnings?: unknown;
  infos?: unknown;
}

const unixSeconds = (d: Date): string => (d.getTime() / 1000).toFixed(3);

export function prometheusClient(opts: PrometheusClientOptions): PrometheusClient {
  const base = opts.url.trim().replace(/\/+$/, '');
  let parsed: URL;
  try {
    parsed = new URL(base);
  } catch {
    throw new PrometheusError(`'${opts.url}' is not a URL.`, {
      url: opts.url,
      failure: 'protocol',
      hint: 'Give prometheus as http(s)://host:port, e.g. http://prometheus:9090.',
    });
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new PrometheusError(`'${opts.url}' is not an http(s) URL.`, {
      url: opts.url,
      failure: 'protocol',
      hint: 'Give prometheus as http(s)://host:port, e.g. http://prometheus:9090.',
    });
  }
  const doFetch = opts.fetch ?? fetch;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  let requests = 0;

  async function call(endpoint: 'query' | 'query_range', params: Record<string, string>): Promise<{ body: ApiBody; warnings: string[] }> {
    const url = `${base}/api/v1/${endpoint}`;
    const form = new URLSearchParams({ ...params, timeout: `${Math.max(1, Math.floor(timeoutMs / 1000))}s` });
    requests++;
    let res: Response;
    let text: string;
    try {
      res = await doFetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json', ...opts.headers },
        body: form.toString(),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await res.text();
    } catch (err) {
      throw networkError(err, base, timeoutMs);
    }
    let body: ApiBody | undefined;
    try {
      const v: unknown = JSON.parse(text);
      body = v && typeof v === 'object' && !Array.isArray(v) ? v : undefined;
    } catch {
      body = undefined;
    }
    if (!body || (body.status !== 'success' && body.status !== 'error')) {
      const first = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
      throw new PrometheusError(
        `${url} answered HTTP ${res.status} with something that is not Prometheus's API JSON${first ? `: ${first}` : ''}.`,
        {
          url: base,
          failure: res.ok ? 'protocol' : 'http',
          status: res.status,
          hint: 'Check that the prometheus input is the Prometheus server itself (its base URL, without /api/v1), not a proxy or another service.',
        },
      );
    }
    const warnings = [...strings(body.warnings), ...strings(body.infos)];
    if (body.status === 'error' || !res.ok) {
      const errorType = typeof body.errorType === 'string' ? body.errorType : undefined;
      const error = typeof body.error === 'string' ? body.error : `HTTP ${res.status}`;
      throw new PrometheusError(`Prometheus at ${base} answered ${res.status}${errorType ? ` ${errorType}` : ''}: ${error}`, {
        url: base,
        failure: 'api',
        status: res.status,
        ...(errorType ? { errorType } : {}),
        hint: apiHint(res.status, errorType),
      });
    }
    return { body, warnings };
  }

  return {
    url: base,
    get requests() {
      return requests;
    },
    async instant(query, time) {
      const { body, warnings } = await call('query', { query, ...(time ? { time: unixSeconds(time) } : {}) });
      const resultType = String(body.data?.resultType);
      const result = body.data?.result;
      try {
        if (resultType === 'vector' && Array.isArray(result)) {
          return {
            resultType,
            warnings,
            series: result.map((r: { metric?: unknown; value?: unknown }) => instantSample(r.metric, r.value)),
          };
        }
        if (resultType === 'scalar') return { resultType, warnings, series: [instantSample({}, result)] };
      } catch (err) {
        throw protocolError(base, err);
      }
      throw protocolError(base, new TypeError(`the query gave a ${resultType}; a vector or a scalar was expected`));
    },
    async range(query, start, end, stepSeconds) {
      const { body, warnings } = await call('query_range', {
        query,
        start: unixSeconds(start),
        end: unixSeconds(end),
        step: String(stepSeconds),
      });
      const result = body.data?.result;
      if (body.data?.resultType !== 'matrix' || !Array.isArray(result)) {
        throw protocolError(base, new TypeError(`query_range gave a ${String(body.data?.resultType)}; a matrix was expected`));
      }
      try {
        return {
          resultType: 'matrix',
          warnings,
          series: result.map((r: { metric?: unknown; values?: unknown }) => ({
            labels: labelsOf(r.metric),
            points: (Array.isArray(r.values) ? r.values : []).map((p: unknown) => point(p)),
          })),
        };
      } catch (err) {
        throw protocolError(base, err);
      }
    },
  };
}

function strings(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function labelsOf(metric: unknown): Labels {
  if (!metric || typeof metric !== 'object') return {};
  return Object.fromEntries(Object.entries(metric as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

function point(p: unknown): [number, number] {
  if (!Array.isArray(p) || p.length !== 2 || typeof p[0] !== 'number')
    throw new TypeError(`a sample must be [time, "value"], got ${JSON.stringify(p)}`);
  return [p[0], parseSampleValue(p[1])];
}

function instantSample(metric: unknown, value: unknown): InstantSample {
  const [time, v] = point(value);
  return { labels: labelsOf(metric), value: v, time };
}

function protocolError(url: string, err: unknown): PrometheusError {
  return new PrometheusError(
    `Prometheus at ${url} sent a result the check cannot read: ${(err as Error).message}.`,
    {
      url,
      failure: 'protocol',
      hint: 'Check that the prometheus input points at a Prometheus-compatible API.',
    },
    { cause: err },
  );
}

function apiHint(status: number, errorType: string | undefined): string {
  if (status === 400 || errorType === 'bad_data')
    return 'The query is not valid PromQL for this Prometheus: check custom queries in modelship.yml (monitor.queries).';
  if (status === 422 || errorType === 'execution')
    return 'Prometheus could not evaluate the query: check custom queries in modelship.yml, and that the window is not too large.';
  if (status === 503 || errorType === 'timeout' || errorType === 'unavailable')
    return 'Prometheus is overloaded or still starting: run the check again later, or shorten the window.';
  return 'Check the Prometheus server and the prometheus input.';
}

function networkError(err: unknown, url: string, timeoutMs: number): PrometheusError {
  const e = err as { name?: string; cause?: { code?: string; message?: string }; message?: string };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') {
    return new PrometheusError(
      `Prometheus at ${url} did not answer within ${timeoutMs / 1000} s.`,
      {
        url,
        failure: 'timeout',
        hint: 'Check that Prometheus is reachable from the runner, or shorten the window so queries finish sooner.',
      },
      { cause: err },
    );
  }
  const code = e?.cause?.code;
  const what =
    code === 'ECONNREFUSED'
      ? 'refused the connection'
      : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
        ? 'has a host name that does not resolve'
        : `cannot be reached (${code ?? e?.cause?.message ?? e?.message ?? 'network error'})`;
  return new PrometheusError(
    `Prometheus at ${url} ${what}.`,
    {
      url,
      failure: 'unreachable',
      hint: 'Check the prometheus input and that Prometheus is running and reachable from the runner.',
    },
    { cause: err },
  );
}
