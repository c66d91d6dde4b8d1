/**
 * The public interface: every action.yml declares exactly the inputs the code reads and the
 * outputs it sets, and only the action runner reads inputs.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { expectedFiles } from '../../scripts/actions.ts';
import { steps } from '../../shared/steps/index.ts';

const root = path.resolve(import.meta.dirname, '../..');
type ActionYml = {
  inputs: Record<string, { description: string; required: boolean; default?: string }>;
  outputs: Record<string, { description: string; value?: string }>;
  runs: { using: string; main?: string; steps?: { run?: string; env?: Record<string, string> }[] };
};
const readYml = (rel: string): ActionYml => parse(readFileSync(path.join(root, rel), 'utf8')) as ActionYml;

describe('action.yml interfaces', () => {
  it('there is one action folder per step, and no other', () => {
    assert.deepEqual(readdirSync(path.join(root, 'actions')).sort(), Object.keys(steps).sort());
  });

  for (const step of Object.values(steps)) {
    describe(step.name, () => {
      const yml = readYml(`actions/${step.name}/action.yml`);
      it('declares exactly the inputs the step parses, with the same defaults', () => {
        assert.deepEqual(Object.keys(yml.inputs).sort(), Object.keys(step.inputs).sort());
        for (const [name, decl] of Object.entries(step.inputs)) {
          assert.equal(yml.inputs[name].default, decl.default, `default of ${name}`);
          assert.equal(yml.inputs[name].required, decl.required === true, `required of ${name}`);
          assert.ok(yml.inputs[name].description.length > 10, `description of ${name}`);
        }
      });
      it('declares exactly the outputs the step sets', () => {
        assert.deepEqual(Object.keys(yml.outputs).sort(), Object.keys(step.outputs).sort());
      });
      it('declares every token and password input as a secret (masked when read)', () => {
        for (const [name, decl] of Object.entries(step.inputs)) {
          if (/(^|-)(password|token|secret)$/.test(name)) assert.equal(decl.secret, true, `${name} is not declared with input.secret`);
        }
      });
      it('uses kebab-case names', () => {
        for (const n of [...Object.keys(yml.inputs), ...Object.keys(yml.outputs)]) assert.match(n, /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/);
      });
      it('runs on node24, directly or from its composite', () => {
        if (yml.runs.using === 'composite') assert.ok(yml.runs.steps!.some((s) => s.run?.includes('index.js')));
        else assert.deepEqual([yml.runs.using, yml.runs.main], ['node24', 'index.js']);
      });
    });
  }

  it('the committed action.yml files and stubs are what scripts/actions.ts generates', () => {
    for (const [rel, text] of Object.entries(expectedFiles())) {
      assert.equal(readFileSync(path.join(root, rel), 'utf8'), text, `${rel} is stale: run npm run actions`);
    }
  });

  it('the root composite chains setup-data, train and evaluate-gate with inputs they declare', () => {
    const yml = readYml('action.yml');
    const runs = yml.runs.steps!.map((s) => s.run ?? '');
    assert.deepEqual(
      runs.map((r) => /actions\/([a-z-]+)\/index\.js/.exec(r)?.[1]),
      ['setup-data', 'train', 'evaluate-gate'],
    );
    const declared = new Set(['setup-data', 'train', 'evaluate-gate'].flatMap((n) => Object.keys(steps[n].inputs)));
    for (const name of Object.keys(yml.inputs)) assert.ok(declared.has(name), `root input ${name} is not an input of any chained step`);
    for (const o of Object.values(yml.outputs)) assert.match(o.value!, /^\$\{\{ steps\.(data|train|gate)\.outputs\.[a-z-]+ \}\}$/);
  });

  it('only the action runner reads inputs (no core.getInput elsewhere)', () => {
    const offenders: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = path.join(dir, e.name);
        if (e.isDirectory()) walk(rel);
        else if (
          rel.endsWith('.ts') &&
          rel !== path.join('shared', 'action', 'run.ts') &&
          /\bgetInput\(/.test(readFileSync(path.join(root, rel), 'utf8'))
        )
          offenders.push(rel);
      }
    };
    walk('shared');
    walk('actions');
    assert.deepEqual(offenders, []);
  });
});
