/**
 * Registry references: one grammar, one parser.
 *
 *   reference := [ 'oci://' host [':' port] [ '/' path ] '/' ] name [ selector ]
 *   selector  := ':' version                      fashion:7
 *              | '@' alias                        fashion@production
 *              | '@sha256:' 64 hex                fashion@sha256:3f9a…
 *              | ':' version '@sha256:' 64 hex    fashion:7@sha256:3f9a… (the digest wins; the version is checked)
 *   name      := [a-z0-9]+ ( [._-] [a-z0-9]+ )*  (one OCI repository path component, at most 128 characters)
 *   alias     := [a-z] [a-z0-9-]*                 (at most 64 characters; never a number)
 *
 * A bare word is a name, or, when the caller knows the model name (`defaultName`), an alias of
 * that model unless the word is the model name itself (`production` → fashion@production, while
 * `fashion` → the latest version of fashion).
 *
 * Registry locations: a local folder (OCI image layout) or `oci://host[:port][/path]`, where the
 * path is the namespace the model names live under (`oci://ghcr.io/acme/models` + `fashion` is
 * the repository `acme/models/fashion` on ghcr.io). `oci://` speaks HTTPS, plain HTTP to a
 * loopback host; `oci+http://` is plain HTTP to any host (a registry inside a cluster or a CI
 * network, as oras's --plain-http).
 */
import path from 'node:path';
import { assertModelName, describeChar, NAME_MAX, nameProblem, printable } from '../config/index.ts';
import { ConfigurationError } from '../util/index.ts';

/** The one name grammar lives in config/names.ts; the registry speaks it. */
export { nameProblem, NAME_MAX };

export const DEFAULT_REGISTRY = '.modelship/registry';

const OCI_SCHEME = /^oci(\+http)?:\/\//i;

/** Whether a registry location or reference is a remote one (oci:// or oci+http://), not a folder. */
export function isOciLocation(text: string): boolean {
  return OCI_SCHEME.test(text.trim());
}

/** A parsed reference; at most one of version/alias selects, a digest pins. */
export interface Reference {
  /** The registry location when written inline (`oci://host/path`), else undefined. */
  readonly registry?: string;
  readonly name: string;
  readonly version?: number;
  readonly alias?: string;
  readonly digest?: string;
}

/** A reference after resolution: always carries the manifest digest. */
export interface ResolvedRef {
  readonly name: string;
  readonly version: number;
  readonly digest: string;
  /** The aliases that point at this version now. */
  readonly aliases: readonly string[];
  /** The display form, e.g. `ghcr.io/acme/models/fashion:3@sha256:…` or `.modelship/registry/fashion:3@sha256:…`. */
  readonly ref: string;
}

export type RegistryLocation =
  | { readonly kind: 'local'; readonly dir: string; readonly display: string }
  | {
      readonly kind: 'oci';
      /** host[:port] */
      readonly host: string;
      /** The namespace path under the host ('' for none), without leading or trailing slash. */
      readonly namespace: string;
      /** http for loopback hosts, https otherwise. */
      readonly scheme: 'http' | 'https';
      readonly display: string;
    };

const ALIAS_MAX = 64;
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;
const ALIAS_RE = /^[a-z][a-z0-9-]*$/;
const VERSION_RE = /^[1-9][0-9]{0,8}$/;
const HOST_RE = /^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]{1,5})?$/;
const IPV6_HOST_RE = /^\[[0-9a-fA-F:.]+\](?::[0-9]{1,5})?$/;

/** Why a string is not a valid alias, or undefined when it is one. */
export function aliasProblem(alias: string): string | undefined {
  if (alias === '') return 'it is empty';
  if (alias.length > ALIAS_MAX) return `it is ${alias.length} characters long; at most ${ALIAS_MAX} are allowed`;
  if (/^[0-9]+$/.test(alias)) return 'a number is a version, not an alias';
  for (const ch of alias) {
    if (/[A-Z]/.test(ch)) return `'${ch}' is refused: aliases are lower-case (use '${alias.toLowerCase()}')`;
    if (!/[a-z0-9-]/.test(ch)) return `${describeChar(ch)} is refused: aliases allow only a-z, 0-9 and '-'`;
  }
  if (!ALIAS_RE.test(alias)) return `'${alias[0]}' is refused at the start: an alias starts with a letter`;
  return undefined;
}

/** Throws a ConfigurationError naming the refused character, for a model name (the one grammar, config/names.ts). */
export function assertName(name: string, where = 'model name'): string {
  return assertModelName(name, where);
}

/** Throws a ConfigurationError naming the refused character, for an alias. */
export function assertAlias(alias: string, where = 'alias'): string {
  const problem = aliasProblem(alias);
  if (problem) {
    throw new ConfigurationError(
      `${where}: '${printable(alias)}' is not a valid alias: ${problem}.`,
      'Use a lower-case word such as production, staging or canary-eu.',
    );
  }
  return alias;
}

export interface ParseOptions {
  /** The model name a bare alias (`production`) refers to. */
  readonly defaultName?: string;
  /** Where the text came from, for errors (e.g. "input 'baseline'"). */
  readonly where?: string;
}

/** Parses a reference; throws a ConfigurationError that says what is wrong and how to write it. */
export function parseReference(text: string, opts: ParseOptions = {}): Reference {
  const where = opts.where ?? 'reference';
  const raw = text.trim();
  const fail = (problem: string): never => {
    throw new ConfigurationError(
      `${where} '${printable(raw)}' is not a valid model reference: ${problem}.`,
      'Write name, name:7, name@production, name@sha256:<64 hex> or oci://host[:port]/path/name@production.',
    );
  };
  if (raw === '') fail('it is empty');

  // The selector first (after the first '@'): a bad digest is named as one, whatever it holds
  // (fashion@sha256:../../etc is a malformed digest, not a path or a registry).
  const at = raw.indexOf('@');
  const locator = at >= 0 ? raw.slice(0, at) : raw;
  let digest: string | undefined;
  let alias: string | undefined;
  if (at >= 0) {
    const sel = raw.slice(at + 1);
    if (sel.startsWith('sha256:')) {
      if (!DIGEST_RE.test(sel)) {
        fail(
          `'${printable(sel.slice(0, 80))}' is not a sha256 digest (sha256: and 64 lower-case hex digits${/[/\\.]/.test(sel) ? '; a digest is never a path' : ''})`,
        );
      }
      digest = sel;
    } else if (/^[a-z0-9+.-]+:/i.test(sel)) {
      fail(`only sha256 digests are supported, got '${printable(sel.slice(0, sel.indexOf(':')))}'`);
    } else {
      const p = aliasProblem(sel);
      if (p) fail(`alias '${printable(sel)}': ${p}`);
      alias = sel;
    }
  }

  let registry: string | undefined;
  let head = locator;
  const scheme = OCI_SCHEME.exec(locator);
  if (scheme) {
    const body = locator.slice(scheme[0].length);
    const slash = body.lastIndexOf('/');
    if (slash <= 0) fail('an oci:// reference needs a host and a model name (oci://ghcr.io/acme/models/fashion)');
    registry = `${scheme[0].toLowerCase()}${body.slice(0, slash)}`;
    const loc = tryParseOci(registry);
    if (typeof loc === 'string') fail(loc);
    head = body.slice(slash + 1);
    if (head === '') fail('the model name after the last / is missing');
  } else if (locator.includes('/')) {
    fail(
      `'/' is refused in a model name; a registry in the reference is written oci://host/path/${locator.slice(locator.lastIndexOf('/') + 1)}`,
    );
  }

  let version: number | undefined;
  const colon = head.indexOf(':');
  let name = head;
  if (colon >= 0) {
    name = head.slice(0, colon);
    const tag = head.slice(colon + 1);
    if (!VERSION_RE.test(tag)) {
      if (aliasProblem(tag) === undefined) fail(`':${tag}' is not a version number; an alias is written ${name}@${tag}`);
      fail(`':${tag}' is not a version number (a whole number from 1)`);
    }
    if (alias !== undefined) fail('a version and an alias cannot both be given');
    version = Number(tag);
  }

  if (registry === undefined && colon < 0 && at < 0 && opts.defaultName !== undefined && name !== opts.defaultName) {
    // A bare word with a known model name: an alias of that model.
    const p = aliasProblem(name);
    if (p) fail(`'${name}' is neither the model name '${opts.defaultName}' nor an alias (${p})`);
    return { name: opts.defaultName, alias: name };
  }

  const np = nameProblem(name);
  if (np) fail(`name '${printable(name)}': ${np}`);
  return {
    ...(registry !== undefined ? { registry } : {}),
    name,
    ...(version !== undefined ? { version } : {}),
    ...(alias !== undefined ? { alias } : {}),
    ...(digest !== undefined ? { digest } : {}),
  };
}

/** The canonical text of a reference (parseReference(formatReference(r)) equals r). */
export function formatReference(ref: Reference): string {
  let s = ref.registry !== undefined ? `${ref.registry.replace(/\/+$/, '')}/${ref.name}` : ref.name;
  if (ref.version !== undefined) s += `:${ref.version}`;
  if (ref.alias !== undefined) s += `@${ref.alias}`;
  if (ref.digest !== undefined) s += `@${ref.digest}`;
  return s;
}

function isLoopback(host: string): boolean {
  const h = host.replace(/:[0-9]+$/, '').replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

function tryParseOci(text: string): RegistryLocation | string {
  const plain = /^oci\+http:/i.test(text);
  const body = text.replace(OCI_SCHEME, '').replace(/\/+$/, '');
  const slash = body.indexOf('/');
  const host = slash < 0 ? body : body.slice(0, slash);
  const ns = slash < 0 ? '' : body.slice(slash + 1);
  if (host === '') return 'the host is missing';
  if (!HOST_RE.test(host) && !IPV6_HOST_RE.test(host)) return `'${printable(host)}' is not a host[:port]`;
  const port = /:([0-9]+)$/.exec(host)?.[1];
  if (port !== undefined && (Number(port) < 1 || Number(port) > 65535)) return `port ${port} is out of range`;
  if (ns !== '') {
    for (const part of ns.split('/')) {
      const p = nameProblem(part);
      if (p) return `namespace component '${printable(part)}': ${p}`;
    }
  }
  const lowerHost = host.toLowerCase();
  return {
    kind: 'oci',
    host: lowerHost,
    namespace: ns,
    scheme: plain || isLoopback(lowerHost) ? 'http' : 'https',
    display: ns === '' ? lowerHost : `${lowerHost}/${ns}`,
  };
}

/**
 * Parses a registry location: `oci://host[:port][/path]` or a local folder (relative to cwd).
 * `where` names the input for errors.
 */
export function parseLocation(text: string, cwd: string, where = "input 'registry'"): RegistryLocation {
  const raw = text.trim() === '' ? DEFAULT_REGISTRY : text.trim();
  if (isOciLocation(raw)) {
    const loc = tryParseOci(raw);
    if (typeof loc === 'string') {
      throw new ConfigurationError(
        `${where} '${printable(raw)}' is not a valid registry location: ${loc}.`,
        'Write oci://host[:port]/path, e.g. oci://ghcr.io/acme/models or oci://127.0.0.1:5000/models.',
      );
    }
    return loc;
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw)) {
    throw new ConfigurationError(
      `${where} '${printable(raw)}' uses a scheme this version does not support.`,
      'Use a local folder (e.g. .modelship/registry) or oci://host[:port]/path.',
    );
  }
  const dir = path.resolve(cwd, raw);
  const rel = path.relative(cwd, dir);
  return { kind: 'local', dir, display: rel === '' ? '.' : rel.startsWith('..') ? dir : rel };
}

/** The repository path of a model on a registry: namespace/name. */
export function repositoryOf(loc: RegistryLocation, name: string): string {
  return loc.kind === 'oci' && loc.namespace !== '' ? `${loc.namespace}/${name}` : name;
}

/** The display reference of a version, e.g. `ghcr.io/acme/models/fashion:3@sha256:…`. */
export function displayRef(loc: RegistryLocation, name: string, version: number, digest: string): string {
  return `${loc.display}/${name}:${version}@${digest}`;
}
