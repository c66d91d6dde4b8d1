/**
 * The remote transport: the OCI distribution HTTP API over fetch (GHCR, Docker Hub, Harbor, ECR,
 * `docker-registry`).
 *
 * - Auth: anonymous, basic, and the bearer token flow (a 401 with `WWW-Authenticate: Bearer
 *   realm=…,service=…,scope=…` → the token endpoint, with basic credentials when given). A refusal
 *   says which credential and which scope.
 * - Network errors and 5xx/429 answers are retried with bounded, jittered exponential backoff; a
 *   blob upload is restarted from its POST. The version does not exist until its manifest is in.
 * - Versions: list tags, take max+1, check the tag is free just before the PUT, then re-read it
 *   after a settle delay; a lost race moves on to the next number. OCI registries have no
 *   compare-and-swap on tags, so the settle delay (several times the check→PUT time, at least
 *   half a second) is what makes a lost race visible to the loser.
 * - Alias moves (moveTags): the same protocol on the alias history tag. Its digest is read, the
 *   move planned, the digest checked again just before the history is PUT, then read back after
 *   the settle delay; only a mover that still finds its own history there PUTs the alias tag. A
 *   mover whose history was replaced by one that contains its move is done (superseded); one whose
 *   move is not in the winner's history plans again on it. What can still race: two movers whose check→PUT
 *   takes longer than the other's settle delay both believe they won, and the later history PUT
 *   replaces the earlier (the README's registry decision says so).
 */
import { createHash } from 'node:crypto';
import { createWriteStream, openAsBlob } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { setTimeout as sleep } from 'node:timers/promises';
import { ConfigurationError, type Logger, ModelshipError, shortDigest } from '../util/index.ts';
import { repositoryOf, type RegistryLocation } from './reference.ts';
import {
  decodeManifest,
  nextVersion,
  OCI_INDEX,
  OCI_MANIFEST,
  versionOfTag,
  type BlobSource,
  type Descriptor,
  type OciStore,
  type StoredManifest,
  type TagPlan,
  type TagView,
} from './store.ts';
import type { OpenOptions } from './types.ts';

const MANIFEST_ACCEPT = [OCI_MANIFEST, OCI_INDEX, 'application/vnd.docker.distribution.manifest.v2+json'].join(', ');

type Action = 'pull' | 'push';

/** An error worth retrying (network failure, 5xx, 429). */
class RetryableError extends Error {
  override readonly name = 'RetryableError';
}

/** Parses `Bearer realm="…",service="…",scope="…"` (or `Basic realm="…"`). */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } | undefined {
  const m = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (!m) return undefined;
  const params: Record<string, string> = {};
  const re = /(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g;
  let p: RegExpExecArray | null;
  while ((p = re.exec(m[2] ?? '')) !== null) params[p[1].toLowerCase()] = (p[2] ?? p[3] ?? '').replace(/\\(.)/g, '$1');
  return { scheme: m[1].toLowerCase(), params };
}

/** The next page of a paginated list from a `Link: </v2/…?last=x&n=100>; rel="next"` header. */
export function nextLink(link: string | null, base: string): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const m = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(part);
    if (m) return new URL(m[1], base).toString();
  }
  return undefined;
}

/** Backoff before retry `attempt` (1-based): exponential, capped, with full jitter. Pure given `rand`. */
export function backoffMs(attempt: number, baseMs: number, maxMs: number, rand: number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * rand);
}

function networkCode(err: unknown): string | undefined {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? (err as NodeJS.ErrnoException).code ?? cause?.message;
}

/** The error for a refused credential: which credential, which scope, and what to do. Pure. */
export function describeRefusal(r: {
  host: string;
  repository: string;
  action: Action;
  detail: string;
  username?: string;
  hasPassword: boolean;
}): ConfigurationError {
  const scope = `repository:${r.repository}:${r.action}`;
  const credential = !r.hasPassword
    ? 'anonymous access'
    : r.host === 'ghcr.io' || !r.username
      ? 'the token'
      : `the password of user '${r.username}'`;
  const hint =
    r.host === 'ghcr.io'
      ? r.action === 'push'
        ? 'Give the workflow `permissions: packages: write` or pass a token with write:packages.'
        : 'Give the workflow `permissions: packages: read` or pass a token with read:packages.'
      : r.hasPassword
        ? `Check the username and password (--username/--password, or MODELSHIP_REGISTRY_PASSWORD): they must grant ${r.action} on ${r.repository}.`
        : 'This registry needs credentials: pass a username and password (--username/--password, or MODELSHIP_REGISTRY_PASSWORD).';
  return new ConfigurationError(`${r.host} refused ${credential} for ${scope}${r.detail ? ` (${r.detail})` : ''}.`, hint);
}

export class DistributionStore implements OciStore {
  private readonly loc: Extract<RegistryLocation, { kind: 'oci' }>;
  private readonly base: string;
  private readonly username: string | undefined;
  private readonly password: string | undefined;
  private readonly log: Logger;
  private readonly attempts: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  /** Authorization header per repository and action, once learned. */
  private readonly auth = new Map<string, string>();

  constructor(loc: Extract<RegistryLocation, { kind: 'oci' }>, opts: OpenOptions) {
    this.loc = loc;
    // Docker Hub's API lives on another host than its name.
    const apiHost = loc.host === 'docker.io' || loc.host === 'index.docker.io' ? 'registry-1.docker.io' : loc.host;
    this.base = `${loc.scheme}://${apiHost}/v2/`;
    this.log = opts.log;
    this.password = opts.password || undefined;
    this.username = opts.username || undefined;
    if (this.password) this.log.secret(this.password);
    // GHCR takes any user name with a token; the workflow actor is the register input's default.
    if (this.password && !this.username && loc.host === 'ghcr.io') this.username = 'modelship';
    this.attempts = opts.retry?.attempts ?? 5;
    this.baseDelayMs = opts.retry?.baseDelayMs ?? 250;
    this.maxDelayMs = opts.retry?.maxDelayMs ?? 5000;
  }

  private repo(name: string): string {
    return repositoryOf(this.loc, name);
  }

  private url(name: string, suffix: string): string {
    return `${this.base}${this.repo(name)}/${suffix}`;
  }

  private refused(name: string, action: Action, detail: string): ConfigurationError {
    return describeRefusal({
      host: this.loc.host,
      repository: this.repo(name),
      action,
      detail,
      ...(this.username ? { username: this.username } : {}),
      hasPassword: this.password !== undefined,
    });
  }

  private async withRetry<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        if (!(err instanceof RetryableError) || attempt >= this.attempts) {
          if (err instanceof RetryableError) {
            throw new ModelshipError(
              `${what} failed after ${attempt} attempts: ${err.message}.`,
              `Check that ${this.loc.host} is reachable, then run again.`,
              { cause: err },
            );
          }
          throw err;
        }
        const wait = backoffMs(attempt, this.baseDelayMs, this.maxDelayMs, Math.random());
        this.log.warning(`${what}: ${err.message}; retrying in ${wait} ms (attempt ${attempt + 1}/${this.attempts})`);
        await sleep(wait);
      }
    }
  }

  /** Fetches a token or settles on basic auth after a 401; false when there is nothing new to try. */
  private async authenticate(name: string, action: Action, challengeHeader: string | null): Promise<boolean> {
    const key = `${this.repo(name)}:${action}`;
    const challenge = challengeHeader ? parseChallenge(challengeHeader) : undefined;
    if (!challenge) return false;
    if (challenge.scheme === 'basic') {
      if (!this.password) return false;
      const header = `Basic ${Buffer.from(`${this.username ?? ''}:${this.password}`).toString('base64')}`;
      if (this.auth.get(key) === header) return false;
      this.auth.set(key, header);
      return true;
    }
    if (challenge.scheme !== 'bearer' || !challenge.params['realm']) return false;
    if (this.auth.get(key)?.startsWith('Bearer ')) return false; // we already had a token: refused
    const realm = new URL(challenge.params['realm']);
    if (challenge.params['service']) realm.searchParams.set('service', challenge.params['service']);
    realm.searchParams.set('scope', `repository:${this.repo(name)}:${action === 'push' ? 'pull,push' : 'pull'}`);
    const headers: Record<string, string> = {};
    if (this.password) headers['authorization'] = `Basic ${Buffer.from(`${this.username ?? ''}:${this.password}`).toString('base64')}`;
    let res: Response;
    try {
      res = await fetch(realm, { headers });
    } catch (err) {
      throw new RetryableError(`token endpoint ${realm.host}: ${networkCode(err) ?? (err as Error).message}`);
    }
    if (res.status === 401 || res.status === 403) {
      await discard(res);
      throw this.refused(name, action, `token endpoint answered ${res.status}`);
    }
    if (res.status >= 500 || res.status === 429) {
      await discard(res);
      throw new RetryableError(`token endpoint answered ${res.status}`);
    }
    if (!res.ok) {
      await discard(res);
      throw new ModelshipError(`${realm.host} token endpoint answered ${res.status}.`, 'Check the registry location.');
    }
    const body = (await res.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new ModelshipError(`${realm.host} token endpoint gave no token.`, 'Check the registry location.');
    this.log.secret(token);
    this.auth.set(key, `Bearer ${token}`);
    return true;
  }

  /**
   * One HTTP exchange with auth: a 401 leads to one authentication and a replay. Network errors
   * and 5xx/429 become RetryableError (the caller's withRetry decides). `body` is a factory so a
   * replay sends it again.
   */
  private async request(
    name: string,
    action: Action,
    method: string,
    url: string,
    init: { headers?: Record<string, string>; body?: () => Promise<Blob | undefined> } = {},
  ): Promise<Response> {
    const key = `${this.repo(name)}:${action}`;
    let refreshed = false;
    for (let round = 0; round < 3; round++) {
      const headers: Record<string, string> = { ...init.headers };
      const auth = this.auth.get(key) ?? (action === 'pull' ? this.auth.get(`${this.repo(name)}:push`) : undefined);
      if (auth) headers['authorization'] = auth;
      let res: Response;
      try {
        const body = init.body ? await init.body() : undefined;
        res = await fetch(url, { method, headers, ...(body !== undefined ? { body, duplex: 'half' } : {}) });
      } catch (err) {
        throw new RetryableError(`${method} ${new URL(url).pathname}: ${networkCode(err) ?? (err as Error).message}`);
      }
      if (res.status === 401) {
        const challenge = res.headers.get('www-authenticate');
        const detail = await errorDetail(res);
        // Another request of this push may have authenticated meanwhile: use what it learned.
        const now = this.auth.get(key) ?? (action === 'pull' ? this.auth.get(`${this.repo(name)}:push`) : undefined);
        if (now !== undefined && now !== auth) continue;
        // A token that worked before may have expired: fetch a new one, once per request.
        if (auth?.startsWith('Bearer ') && !refreshed) {
          refreshed = true;
          this.auth.delete(key);
        }
        if (await this.authenticate(name, action, challenge)) continue;
        throw this.refused(name, action, detail);
      }
      if (res.status === 403) throw this.refused(name, action, await errorDetail(res));
      if (res.status >= 500 || res.status === 429) {
        const detail = await errorDetail(res);
        throw new RetryableError(`${method} ${new URL(url).pathname} answered ${res.status}${detail ? ` (${detail})` : ''}`);
      }
      return res;
    }
    throw this.refused(name, action, 'authentication did not settle');
  }

  private unexpected(what: string, res: Response, detail: string): ModelshipError {
    return new ModelshipError(
      `${this.loc.host}: ${what} answered ${res.status}${detail ? ` (${detail})` : ''}.`,
      'Check the registry location and that it speaks the OCI distribution API.',
    );
  }

  async hasBlob(name: string, digest: string): Promise<boolean> {
    return this.withRetry(`checking blob ${shortDigest(digest)}`, async () => {
      // Only asked before an upload, so under the push scope (one token for the whole push).
      const res = await this.request(name, 'push', 'HEAD', this.url(name, `blobs/${digest}`));
      await discard(res);
      if (res.status === 404) return false;
      if (res.ok) return true;
      throw this.unexpected(`HEAD blob ${shortDigest(digest)}`, res, '');
    });
  }

  async putBlob(name: string, blob: BlobSource): Promise<void> {
    await this.withRetry(`uploading ${blob.label} (${shortDigest(blob.digest)})`, async () => {
      const start = await this.request(name, 'push', 'POST', this.url(name, 'blobs/uploads/'), { headers: { 'content-length': '0' } });
      const startDetail = start.ok ? '' : await errorDetail(start);
      await discard(start);
      const location = start.headers.get('location');
      if (start.status !== 202 || !location) throw this.unexpected(`starting the upload of ${blob.label}`, start, startDetail);
      const put = new URL(location, this.base);
      put.searchParams.set('digest', blob.digest);
      const res = await this.request(name, 'push', 'PUT', put.toString(), {
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
        body: async () => (blob.bytes ? new Blob([blob.bytes]) : await openAsBlob(blob.file!)),
      });
      const detail = res.ok ? '' : await errorDetail(res);
      await discard(res);
      if (res.status !== 201) throw this.unexpected(`uploading ${blob.label}`, res, detail);
      const got = res.headers.get('docker-content-digest');
      if (got && got !== blob.digest) {
        throw new ModelshipError(
          `${this.loc.host} stored ${blob.label} under ${got}, not ${blob.digest}.`,
          'The upload was altered on the way; run again.',
        );
      }
    });
  }

  async fetchBlob(name: string, desc: Descriptor, dest: string, label: string): Promise<void> {
    await this.withRetry(`downloading ${label} (${shortDigest(desc.digest)})`, async () => {
      const res = await this.request(name, 'pull', 'GET', this.url(name, `blobs/${desc.digest}`));
      if (res.status === 404) {
        await discard(res);
        throw new ModelshipError(
          `blob ${desc.digest} (${label}) is missing from ${this.loc.display}/${name}.`,
          'The registry copy is damaged; register the model again.',
        );
      }
      if (!res.ok || !res.body) throw this.unexpected(`GET blob ${label}`, res, await errorDetail(res));
      const hash = createHash('sha256');
      let size = 0;
      const tap = new Transform({
        transform(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          cb(null, chunk);
        },
      });
      try {
        await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), tap, createWriteStream(dest, { flags: 'wx' }));
      } catch (err) {
        await rm(dest, { force: true });
        throw new RetryableError(`download of ${label} broke off: ${networkCode(err) ?? (err as Error).message}`);
      }
      const got = `sha256:${hash.digest('hex')}`;
      if (got !== desc.digest || size !== desc.size) {
        await rm(dest, { force: true });
        throw new ModelshipError(
          `blob ${desc.digest} (${label}) is corrupt: its content ${size !== desc.size ? `is ${size} bytes, not ${desc.size}` : `hashes to ${got}`}.`,
          'The registry copy is damaged; register the model again (or restore the blob) and retry.',
        );
      }
    });
  }

  async readBlob(name: string, desc: Descriptor, label: string): Promise<Uint8Array> {
    return this.withRetry(`reading ${label} (${shortDigest(desc.digest)})`, async () => {
      const res = await this.request(name, 'pull', 'GET', this.url(name, `blobs/${desc.digest}`));
      if (!res.ok) throw this.unexpected(`GET blob ${label}`, res, await errorDetail(res));
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        throw new RetryableError(`read of ${label} broke off: ${networkCode(err) ?? (err as Error).message}`);
      }
      const got = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      if (got !== desc.digest || bytes.length !== desc.size) {
        throw new ModelshipError(
          `blob ${desc.digest} (${label}) is corrupt: its content hashes to ${got}.`,
          'The registry copy is damaged; register the model again.',
        );
      }
      return bytes;
    });
  }

  async getManifest(name: string, reference: string): Promise<StoredManifest | undefined> {
    return this.withRetry(`reading manifest ${name}:${reference}`, async () => {
      const res = await this.request(name, 'pull', 'GET', this.url(name, `manifests/${reference}`), {
        headers: { accept: MANIFEST_ACCEPT },
      });
      if (res.status === 404) {
        await discard(res);
        return undefined;
      }
      if (!res.ok) throw this.unexpected(`GET manifest ${name}:${reference}`, res, await errorDetail(res));
      let bytes: Uint8Array;
      try {
        bytes = new Uint8Array(await res.arrayBuffer());
      } catch (err) {
        throw new RetryableError(`read of manifest broke off: ${networkCode(err) ?? (err as Error).message}`);
      }
      const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
      const claimed = reference.startsWith('sha256:') ? reference : res.headers.get('docker-content-digest');
      if (claimed && claimed !== digest) {
        throw new ModelshipError(
          `manifest ${name}:${reference} from ${this.loc.host} hashes to ${digest}, not ${claimed}.`,
          'The registry copy is damaged or was altered on the way.',
        );
      }
      return decodeManifest(bytes, digest, `${this.loc.display}/${name}`);
    });
  }

  async tagDigest(name: string, tag: string): Promise<string | undefined> {
    return this.withRetry(`reading tag ${name}:${tag}`, async () => {
      const res = await this.request(name, 'pull', 'HEAD', this.url(name, `manifests/${tag}`), { headers: { accept: MANIFEST_ACCEPT } });
      await discard(res);
      if (res.status === 404) return undefined;
      if (!res.ok) throw this.unexpected(`HEAD manifest ${name}:${tag}`, res, '');
      const d = res.headers.get('docker-content-digest');
      if (d) return d;
      return (await this.getManifest(name, tag))?.digest;
    });
  }

  async listTags(name: string): Promise<string[]> {
    const tags: string[] = [];
    let url: string | undefined = this.url(name, 'tags/list');
    for (let page = 0; url && page < 1000; page++) {
      const current: string = url;
      const res = await this.withRetry(`listing tags of ${name}`, () => this.request(name, 'pull', 'GET', current));
      if (res.status === 404) {
        await discard(res);
        return tags;
      }
      if (!res.ok) throw this.unexpected(`GET tags of ${name}`, res, await errorDetail(res));
      const body = (await res.json()) as { tags?: string[] | null };
      tags.push(...(body.tags ?? []));
      url = nextLink(res.headers.get('link'), current);
    }
    return tags;
  }

  async tagDigests(name: string, filter: (tag: string) => boolean): Promise<Map<string, string>> {
    const tags = (await this.listTags(name)).filter(filter);
    const out = new Map<string, string>();
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < tags.length) {
        const t = tags[next++];
        const d = await this.tagDigest(name, t);
        if (d) out.set(t, d);
      }
    };
    await Promise.all(Array.from({ length: Math.min(8, tags.length) }, worker));
    return out;
  }

  async putManifest(name: string, m: StoredManifest, tag: string): Promise<void> {
    await this.withRetry(`writing ${name}:${tag}`, async () => {
      const res = await this.request(name, 'push', 'PUT', this.url(name, `manifests/${tag}`), {
        headers: { 'content-type': m.manifest.mediaType },
        body: () => Promise.resolve(new Blob([m.bytes])),
      });
      const detail = res.ok ? '' : await errorDetail(res);
      await discard(res);
      // Our blobs are all uploaded, so a registry that cannot find or read one of them is seeing a
      // transient state: distribution 2.8 rewrites a repository's blob link in place when the same
      // blob is uploaded concurrently, and a manifest PUT reading it meanwhile fails this way.
      if (res.status === 400 && /^(DIGEST_INVALID|MANIFEST_BLOB_UNKNOWN|BLOB_UNKNOWN)/.test(detail)) {
        throw new RetryableError(`PUT manifest ${name}:${tag} answered 400 (${detail})`);
      }
      if (res.status !== 201) throw this.unexpected(`PUT manifest ${name}:${tag}`, res, detail);
      const got = res.headers.get('docker-content-digest');
      if (got && got !== m.digest) {
        throw new ModelshipError(
          `${this.loc.host} stored ${name}:${tag} as ${got}, not ${m.digest}.`,
          'The registry rewrote the manifest; use a registry that keeps OCI manifests as given.',
        );
      }
    });
  }

  async moveTags<T>(name: string, guard: string, plan: (tags: TagView) => Promise<TagPlan<T>>): Promise<T> {
    const view: TagView = { tag: (t) => this.tagDigest(name, t), list: () => this.listTags(name) };
    for (let attempt = 0; attempt < 30; attempt++) {
      const before = await this.tagDigest(name, guard);
      const { put, result, applied } = await plan(view);
      const mine = put.find((p) => p.tag === guard);
      if (!mine) throw new Error(`a tag move of ${name} must rewrite its guard tag ${guard}`);
      const started = Date.now();
      // Checked again just before the PUT: a move that landed meanwhile means planning again.
      if ((await this.tagDigest(name, guard)) !== before) {
        this.log.debug(`${name}:${guard} moved while this move was planned; planning again`);
        continue;
      }
      await this.putManifest(name, mine.manifest, guard);
      const window = Date.now() - started;
      await sleep(Math.max(500, 4 * window) + Math.random() * 100);
      if ((await this.tagDigest(name, guard)) !== mine.manifest.digest) {
        // Replaced: either by a move built on ours (ours is in, and superseded: the later move
        // writes the other tags), or by one that started from the same state (ours is lost).
        if (await applied?.(view)) return result;
        this.log.info(`${name}:${guard} went to another move at the same time; planning again on top of it.`);
        await sleep(Math.random() * 200);
        continue;
      }
      for (const p of put) if (p !== mine) await this.putManifest(name, p.manifest, p.tag);
      return result;
    }
    throw new ModelshipError(
      `could not move the tags of ${name} on ${this.loc.host} after 30 attempts (${guard} kept changing).`,
      'Too many alias moves at once; run again.',
    );
  }

  async createVersion(name: string, m: StoredManifest): Promise<{ version: number; created: boolean }> {
    for (let attempt = 0; attempt < 50; attempt++) {
      const tags = await this.listTags(name);
      if (await this.getManifest(name, m.digest)) {
        const versions = tags
          .map(versionOfTag)
          .filter((v): v is number => v !== undefined)
          .sort((a, b) => b - a);
        for (const v of versions) if ((await this.tagDigest(name, String(v))) === m.digest) return { version: v, created: false };
      }
      const version = nextVersion(tags);
      const started = Date.now();
      if ((await this.tagDigest(name, String(version))) !== undefined) {
        this.log.debug(`${name}:${version} appeared meanwhile; trying again`);
        continue;
      }
      await this.putManifest(name, m, String(version));
      const window = Date.now() - started;
      await sleep(Math.max(500, 4 * window) + Math.random() * 100);
      const now = await this.tagDigest(name, String(version));
      if (now === m.digest) return { version, created: true };
      this.log.info(`${name}:${version} went to another registration at the same time; taking the next number.`);
      await sleep(Math.random() * 200);
    }
    throw new ModelshipError(
      `could not allocate a version of ${name} on ${this.loc.host} after 50 attempts.`,
      'Too many registrations at once; run again.',
    );
  }
}

/** Releases a response body that was not read (reading it elsewhere first is fine). */
async function discard(res: Response): Promise<void> {
  if (res.body && !res.bodyUsed) await res.body.cancel().catch(() => undefined);
}

/** The first error of an OCI error body ("NAME_UNKNOWN: repository name not known"), or ''. */
async function errorDetail(res: Response): Promise<string> {
  try {
    const text = await res.text();
    const body = JSON.parse(text) as { errors?: { code?: string; message?: string }[] };
    const e = body.errors?.[0];
    return e ? `${e.code ?? 'ERROR'}: ${e.message ?? ''}`.trim() : text.slice(0, 200);
  } catch {
    return '';
  }
}
