import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import {
  aliasProblem,
  formatReference,
  nameProblem,
  isOciLocation,
  parseLocation,
  parseReference,
  repositoryOf,
  type Reference,
} from '../../shared/registry/reference.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

const D = `sha256:${'ab'.repeat(32)}`;

describe('parseReference', () => {
  const cases: { text: string; defaultName?: string; want?: Reference; error?: RegExp }[] = [
    { text: 'fashion', want: { name: 'fashion' } },
    { text: 'fashion:7', want: { name: 'fashion', version: 7 } },
    { text: 'fashion@production', want: { name: 'fashion', alias: 'production' } },
    { text: `fashion@${D}`, want: { name: 'fashion', digest: D } },
    { text: `fashion:3@${D}`, want: { name: 'fashion', version: 3, digest: D } },
    { text: 'fashion-mnist.v2_b', want: { name: 'fashion-mnist.v2_b' } },
    { text: '  fashion:12  ', want: { name: 'fashion', version: 12 } },
    { text: 'production', defaultName: 'fashion', want: { name: 'fashion', alias: 'production' } },
    { text: 'fashion', defaultName: 'fashion', want: { name: 'fashion' } },
    { text: 'other@staging', defaultName: 'fashion', want: { name: 'other', alias: 'staging' } },
    { text: 'fashion:2', defaultName: 'fashion', want: { name: 'fashion', version: 2 } },
    {
      text: 'oci://ghcr.io/acme/models/fashion@production',
      want: { registry: 'oci://ghcr.io/acme/models', name: 'fashion', alias: 'production' },
    },
    { text: 'oci://127.0.0.1:5000/models/fashion:3', want: { registry: 'oci://127.0.0.1:5000/models', name: 'fashion', version: 3 } },
    { text: 'oci://localhost:5000/fashion', want: { registry: 'oci://localhost:5000', name: 'fashion' } },
    { text: `oci://ghcr.io/acme/fashion:3@${D}`, want: { registry: 'oci://ghcr.io/acme', name: 'fashion', version: 3, digest: D } },
    { text: '', error: /is empty/ },
    { text: 'Fashion', error: /'F' is refused: OCI registries accept only lower-case names \(use 'fashion'\)/ },
    { text: 'fash ion', error: /a space is refused/ },
    { text: 'fashion$', error: /'\$' is refused: OCI repository names allow only/ },
    { text: 'team/fashion', error: /'\/' is refused in a model name/ },
    { text: '-fashion', error: /'-' is refused at the start/ },
    { text: 'fashion_', error: /'_' is refused at the end/ },
    { text: 'fa--shion', error: /'--' is refused: separators/ },
    { text: 'fashion:production', error: /':production' is not a version number; an alias is written fashion@production/ },
    { text: 'fashion:0', error: /':0' is not a version number/ },
    { text: 'fashion:-1', error: /':-1' is not a version number/ },
    { text: 'fashion@sha256:abc', error: /is not a sha256 digest/ },
    { text: `fashion@sha512:${'a'.repeat(128)}`, error: /only sha256 digests are supported, got 'sha512'/ },
    { text: 'fashion@Production', error: /'P' is refused: aliases are lower-case/ },
    { text: 'fashion@12', error: /a number is a version, not an alias/ },
    { text: 'fashion:3@production', error: /a version and an alias cannot both be given/ },
    { text: 'Production', defaultName: 'fashion', error: /neither the model name 'fashion' nor an alias/ },
    { text: 'oci://ghcr.io', error: /needs a host and a model name/ },
    { text: 'oci://ghcr.io/acme/', error: /model name after the last \/ is missing/ },
    { text: 'oci://bad host/acme/fashion', error: /'bad host' is not a host\[:port\]/ },
    { text: 'oci://ghcr.io/Acme/fashion', error: /namespace component 'Acme': 'A' is refused/ },
    { text: 'oci://h:99999/fashion', error: /port 99999 is out of range/ },
    { text: `${'a'.repeat(129)}`, error: /129 characters long/ },
  ];
  for (const c of cases) {
    it(`${JSON.stringify(c.text)}${c.defaultName ? ` (default ${c.defaultName})` : ''}`, () => {
      const opts = c.defaultName ? { defaultName: c.defaultName } : {};
      if (c.error) {
        assert.throws(
          () => parseReference(c.text, opts),
          (e: unknown) => e instanceof ConfigurationError && c.error!.test(e.message) && /Write name, name:7/.test(e.hint ?? ''),
        );
        return;
      }
      const got = parseReference(c.text, opts);
      assert.deepEqual(got, c.want);
      // The canonical text parses back to the same reference.
      if (!c.defaultName) assert.deepEqual(parseReference(formatReference(got)), got);
    });
  }
});

describe('nameProblem / aliasProblem', () => {
  const names: [string, RegExp | undefined][] = [
    ['a', undefined],
    ['fashion.mnist', undefined],
    ['9lives', undefined],
    ['fa.shion', undefined],
    ['fa..shion', /'\.\.' is refused/],
    ['ça', /'ç' is refused/],
    ['a\u0007b', /control character U\+0007 is refused/],
  ];
  for (const [n, want] of names) {
    it(`name ${JSON.stringify(n)}`, () => {
      const p = nameProblem(n);
      if (want) assert.match(p ?? '', want);
      else assert.equal(p, undefined);
    });
  }
  const aliases: [string, RegExp | undefined][] = [
    ['production', undefined],
    ['canary-eu', undefined],
    ['v2', undefined],
    ['2', /a number is a version/],
    ['pro_d', /'_' is refused: aliases allow only/],
    ['-prod', /at the start: an alias starts with a letter/],
    ['x'.repeat(65), /at most 64/],
  ];
  for (const [a, want] of aliases) {
    it(`alias ${JSON.stringify(a)}`, () => {
      const p = aliasProblem(a);
      if (want) assert.match(p ?? '', want);
      else assert.equal(p, undefined);
    });
  }
});

describe('parseLocation', () => {
  const schemeOf = (text: string): string | undefined => {
    const l = parseLocation(text, cwd);
    return l.kind === 'oci' ? l.scheme : undefined;
  };
  const cwd = '/work/proj';
  it('defaults to the local folder .modelship/registry', () => {
    assert.deepEqual(parseLocation('', cwd), {
      kind: 'local',
      dir: path.resolve(cwd, '.modelship/registry'),
      display: '.modelship/registry',
    });
  });
  it('reads oci:// locations with namespace, port and scheme', () => {
    const l = parseLocation('oci://GHCR.io/acme/models/', cwd);
    assert.deepEqual(l, { kind: 'oci', host: 'ghcr.io', namespace: 'acme/models', scheme: 'https', display: 'ghcr.io/acme/models' });
    assert.equal(repositoryOf(l, 'fashion'), 'acme/models/fashion');
    const lo = parseLocation('oci://127.0.0.1:5000', cwd);
    assert.deepEqual(lo, { kind: 'oci', host: '127.0.0.1:5000', namespace: '', scheme: 'http', display: '127.0.0.1:5000' });
    assert.equal(repositoryOf(lo, 'fashion'), 'fashion');
  });
  it('reads oci+http:// as plain HTTP to any host, in locations and in references', () => {
    assert.deepEqual(parseLocation('oci+http://kind-registry:5000/models', cwd), {
      kind: 'oci',
      host: 'kind-registry:5000',
      namespace: 'models',
      scheme: 'http',
      display: 'kind-registry:5000/models',
    });
    assert.equal(schemeOf('oci://kind-registry:5000/models'), 'https');
    const r = parseReference('OCI+HTTP://kind-registry:5000/models/fashion@production');
    assert.equal(r.registry, 'oci+http://kind-registry:5000/models');
    assert.equal(schemeOf(r.registry ?? ''), 'http');
    assert.ok(isOciLocation('oci+http://x/y') && isOciLocation(' oci://x') && !isOciLocation('./oci'));
  });

  it('refuses unknown schemes and bad hosts', () => {
    assert.throws(() => parseLocation('s3://bucket/x', cwd), /uses a scheme this version does not support/);
    assert.throws(() => parseLocation('oci://a b/x', cwd), /not a valid registry location: 'a b' is not a host/);
  });
});
