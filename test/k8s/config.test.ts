import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { loadKubeConfig } from '../../shared/k8s/index.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

let dir: string;

const kubeconfig = (contexts: { name: string; server: string; namespace?: string }[], current: string): string =>
  JSON.stringify({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: contexts.map((c) => ({ name: c.name, cluster: { server: c.server, 'insecure-skip-tls-verify': true } })),
    users: contexts.map((c) => ({ name: c.name, user: { token: `t-${c.name}` } })),
    contexts: contexts.map((c) => ({
      name: c.name,
      context: { cluster: c.name, user: c.name, ...(c.namespace ? { namespace: c.namespace } : {}) },
    })),
    'current-context': current,
  });

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'modelship-kubeconfig-'));
  await writeFile(path.join(dir, 'a.yaml'), kubeconfig([{ name: 'kind-a', server: 'https://a:6443', namespace: 'ml' }], 'kind-a'));
  await writeFile(path.join(dir, 'b.yaml'), kubeconfig([{ name: 'prod', server: 'https://b:6443' }], 'prod'));
  await mkdir(path.join(dir, 'home', '.kube'), { recursive: true });
  await writeFile(path.join(dir, 'home', '.kube', 'config'), kubeconfig([{ name: 'home', server: 'https://home:6443' }], 'home'));
  await writeFile(path.join(dir, 'broken.yaml'), 'clusters: [');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('an explicit kubeconfig wins over KUBECONFIG and home; relative paths resolve against cwd', () => {
  const got = loadKubeConfig({ kubeconfig: 'a.yaml' }, { KUBECONFIG: path.join(dir, 'b.yaml'), HOME: path.join(dir, 'home') }, dir);
  assert.equal(got.server, 'https://a:6443');
  assert.equal(got.namespace, 'ml', "the context's namespace");
  assert.equal(got.source, path.join(dir, 'a.yaml'));
});

test('KUBECONFIG lists files merged in order (the first sets the current context), and a context can be chosen', () => {
  const env = { KUBECONFIG: [path.join(dir, 'a.yaml'), path.join(dir, 'b.yaml')].join(path.delimiter) };
  const first = loadKubeConfig({}, env, dir);
  assert.equal(first.server, 'https://a:6443');
  assert.equal(first.source, '$KUBECONFIG');
  const prod = loadKubeConfig({ context: 'prod', namespace: 'serving' }, env, dir);
  assert.equal(prod.server, 'https://b:6443');
  assert.equal(prod.namespace, 'serving');
  assert.equal(loadKubeConfig({ context: 'prod' }, env, dir).namespace, 'default');
});

test('~/.kube/config is used when nothing else is given', () => {
  const got = loadKubeConfig({}, { HOME: path.join(dir, 'home') }, dir);
  assert.equal(got.server, 'https://home:6443');
});

const errors: [string, Parameters<typeof loadKubeConfig>[0], Record<string, string>, RegExp][] = [
  ['nothing found', {}, { HOME: path.join(tmpdir(), 'no-such-home') }, /no Kubernetes configuration found/],
  ['missing file', { kubeconfig: 'nope.yaml' }, {}, /kubeconfig '.*nope.yaml' does not exist/],
  ['unreadable file', { kubeconfig: 'broken.yaml' }, {}, /cannot be read as a kubeconfig/],
  ['unknown context', { kubeconfig: 'a.yaml', context: 'staging' }, {}, /context 'staging' is not in/],
];
for (const [name, target, env, re] of errors)
  test(`kubeconfig: ${name} is a ConfigurationError`, () => {
    assert.throws(
      () => loadKubeConfig(target, env, dir),
      (err: unknown) => err instanceof ConfigurationError && re.test(err.message) && (err.hint ?? '') !== '',
    );
  });

test('an unknown context lists the known ones', () => {
  assert.throws(
    () => loadKubeConfig({ kubeconfig: 'a.yaml', context: 'x' }, {}, dir),
    (err: unknown) => err instanceof ConfigurationError && err.hint === 'Use one of: kind-a.',
  );
});
