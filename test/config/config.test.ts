import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { configInputs, loadConfig, parseConfig } from '../../shared/config/load.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

describe('modelship.yml', () => {
  const bad: [string, string, RegExp][] = [
    ['unknown top-level key', 'nmae: fashion', /modelship\.yml: unknown key 'nmae' in the top level/],
    ['unknown nested key', 'train:\n  epoch: 3', /modelship\.yml: unknown key 'epoch' in 'train'/],
    ['wrong type', 'train:\n  epochs: many', /modelship\.yml: key 'train\.epochs' expected number/],
    ['enum', 'train:\n  backend: gpu', /key 'train\.backend'/],
    ['bad name', 'name: Fashion Model', /key 'name'/],
    ['duplicate key', 'name: a\nname: b', /not valid YAML/],
    ['syntax', 'train: [', /not valid YAML/],
  ];
  for (const [what, text, re] of bad) {
    it(`rejects ${what}, naming the key and the file`, () => {
      assert.throws(
        () => parseConfig(text, 'modelship.yml'),
        (e: unknown) => e instanceof ConfigurationError && re.test(e.message),
      );
    });
  }

  it('turns a section into raw inputs of the same names (lists as lines)', () => {
    const cfg = parseConfig(
      'name: fashion\ngate:\n  thresholds: ["accuracy >= 0.9", "f1_macro >= 0.8"]\n  significance: 0.01\nregistry:\n  url: oci://ghcr.io/acme/models\n',
      'm.yml',
    );
    assert.deepEqual(configInputs(cfg, 'gate'), { name: 'fashion', thresholds: 'accuracy >= 0.9\nf1_macro >= 0.8', significance: '0.01' });
    assert.deepEqual(configInputs(cfg, 'registry', { url: 'registry' }), { name: 'fashion', registry: 'oci://ghcr.io/acme/models' });
  });

  it('is optional unless named, and a named missing file is an error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    assert.deepEqual((await loadConfig(undefined, dir)).config, {});
    await assert.rejects(loadConfig('nope.yml', dir), /config file 'nope\.yml' cannot be read/);
    writeFileSync(path.join(dir, 'modelship.yml'), 'name: fashion\n');
    assert.equal((await loadConfig(undefined, dir)).config.name, 'fashion');
  });
});
