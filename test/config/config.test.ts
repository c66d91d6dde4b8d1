import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { configInputs, loadConfig, parseConfig as parseWith } from '../../shared/config/load.ts';
import { EMPTY_CONFIG } from '../../shared/config/schema.ts';
import { allSteps, configSchema } from '../../shared/steps/index.ts';
import { ConfigurationError } from '../../shared/util/errors.ts';

const schema = configSchema(allSteps);
const parseConfig = (text: string, name: string) => parseWith(text, name, schema);

describe('modelship.yml', () => {
  const bad: [string, string, RegExp][] = [
    ['unknown top-level key', 'nmae: fashion', /modelship\.yml: unknown key 'nmae' in the top level/],
    ['unknown nested key', 'train:\n  epoch: 3', /modelship\.yml: unknown key 'epoch' in 'train'/],
    ['wrong type', 'train:\n  epochs: many', /modelship\.yml: key 'train\.epochs' must be a whole number, got 'many'/],
    ['out of the input range', 'train:\n  epochs: 0', /modelship\.yml: key 'train\.epochs' is 0, out of range/],
    [
      'a range the step declares (significance at most 0.5)',
      'gate:\n  significance: 0.6',
      /key 'gate\.significance' is 0\.6, out of range/,
    ],
    ['a secret', 'gate:\n  github-token: abc', /unknown key 'github-token' in 'gate'/],
    ['a mapping where a value belongs', 'train:\n  epochs: { a: 1 }', /key 'train\.epochs' must be a string, a number or true\/false/],
    ['a section that is not a mapping', 'train: 5', /key 'train' must be a mapping of settings/],
    [
      'a YAML alias bomb',
      'a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]\n',
      /modelship\.yml cannot be read: its YAML aliases expand too far/,
    ],
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

  it("holds modelship serve's section beside the steps' (one file, one loader)", () => {
    const cfg = parseConfig(
      'name: fashion\nserve:\n  port: 8601\n  models:\n    - name: fashion\n      versions: [fashion@production]\n',
      'm.yml',
    );
    assert.deepEqual(cfg.sections['serve'], { port: 8601, models: [{ name: 'fashion', versions: ['fashion@production'] }] });
    assert.throws(() => parseConfig('serve:\n  prot: 1\n', 'm.yml'), /m\.yml: unknown key 'prot' in 'serve'/);
  });

  it('is optional unless named, and a named missing file is an error', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cfg-'));
    assert.deepEqual((await loadConfig(undefined, dir, schema)).config, EMPTY_CONFIG);
    await assert.rejects(loadConfig('nope.yml', dir, schema), /config file 'nope\.yml' cannot be read/);
    writeFileSync(path.join(dir, 'modelship.yml'), 'name: fashion\n');
    assert.equal((await loadConfig(undefined, dir, schema)).config.name, 'fashion');
  });
});
