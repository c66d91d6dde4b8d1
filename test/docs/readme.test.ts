/**
 * The docs cannot drift from the code: every `uses:` of a modelship action in a YAML block of the
 * README, the actions' READMEs and the example workflows passes only inputs the action declares and
 * reads only outputs it sets; every modelship.yml in them is valid; every example job grants the
 * permissions its steps need, and nothing at the top.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parse } from 'yaml';
import { allSteps, configSchema, steps } from '../../shared/steps/index.ts';

const root = path.resolve(import.meta.dirname, '../..');
type Raw = Record<string, unknown>;
const rec = (v: unknown): Raw => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {});

const docs = ['README.md', ...readdirSync(path.join(root, 'actions')).map((a) => path.join('actions', a, 'README.md'))];
const workflows = readdirSync(path.join(root, 'examples', 'workflows')).map((f) => path.join('examples', 'workflows', f));
const ours = readdirSync(path.join(root, '.github', 'workflows')).map((f) => path.join('.github', 'workflows', f));

/** The modelship action a `uses:` names (acme/modelship/actions/<name>@…, ./actions/<name>), or 'root' for the one-line action. */
function actionOf(uses: string): string | undefined {
  const m = /^(?:[\w.-]+\/modelship|\.)(?:\/actions\/([a-z-]+))?(?:@|$)/.exec(uses);
  if (!m) return undefined;
  return m[1] ?? 'root';
}

/** A step's `uses:` as text ('' when it has none). */
const usesOf = (s: Raw): string => (typeof s['uses'] === 'string' ? s['uses'] : '');

const rootYml = rec(parse(readFileSync(path.join(root, 'action.yml'), 'utf8')));

function declared(action: string): { inputs: string[]; outputs: string[] } {
  if (action === 'root') return { inputs: Object.keys(rec(rootYml['inputs'])), outputs: Object.keys(rec(rootYml['outputs'])) };
  const s = steps[action];
  assert.ok(s, `no action ${action}`);
  return { inputs: Object.keys(s.inputs), outputs: Object.keys(s.outputs) };
}

/** Every list of steps in a YAML document: a bare list, a job's steps, a workflow's jobs' steps. */
function stepLists(doc: unknown): Raw[][] {
  if (Array.isArray(doc)) return [doc.map(rec)];
  const d = rec(doc);
  if (Array.isArray(d['steps'])) return [(d['steps'] as unknown[]).map(rec)];
  return Object.values(rec(d['jobs'])).flatMap((j) => stepLists(j));
}

/** What breaks a list of steps: undeclared inputs, outputs of a step that does not set them. */
function problems(list: Raw[], where: string): string[] {
  const out: string[] = [];
  const ids = new Map<string, string>();
  for (const s of list) {
    const action = typeof s['uses'] === 'string' ? actionOf(s['uses']) : undefined;
    if (action && typeof s['id'] === 'string') ids.set(s['id'], action);
  }
  // The ids the docs' fragments use for steps defined elsewhere (`steps.data` is setup-data, …).
  const conventional: Record<string, string> = { data: 'setup-data', train: 'train', gate: 'evaluate-gate', register: 'register' };
  for (const s of list) {
    const action = typeof s['uses'] === 'string' ? actionOf(s['uses']) : undefined;
    if (action) {
      const d = declared(action);
      for (const k of Object.keys(rec(s['with']))) if (!d.inputs.includes(k)) out.push(`${where}: ${action} has no input '${k}'`);
    }
    const text = JSON.stringify(s);
    for (const m of text.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
      const target = ids.get(m[1]) ?? conventional[m[1]];
      if (!target) continue;
      if (!declared(target).outputs.includes(m[2])) out.push(`${where}: ${target} (steps.${m[1]}) has no output '${m[2]}'`);
    }
  }
  return out;
}

function yamlBlocks(file: string): { text: string; where: string }[] {
  const md = readFileSync(path.join(root, file), 'utf8');
  return [...md.matchAll(/^```yaml\n([\s\S]*?)\n```/gm)].map((m) => ({
    text: m[1],
    where: `${file}:${md.slice(0, m.index).split('\n').length}`,
  }));
}

describe('docs and examples', () => {
  it('every uses: of a modelship action passes declared inputs and reads declared outputs', () => {
    const found: string[] = [];
    let checked = 0;
    for (const file of docs) {
      for (const b of yamlBlocks(file)) {
        let doc: unknown;
        try {
          doc = parse(b.text);
        } catch (err) {
          found.push(`${b.where}: not YAML (${(err as Error).message})`);
          continue;
        }
        for (const list of stepLists(doc)) {
          checked += list.length;
          found.push(...problems(list, b.where));
        }
      }
    }
    for (const file of [...workflows, ...ours]) {
      for (const [job, j] of Object.entries(rec(rec(parse(readFileSync(path.join(root, file), 'utf8')))['jobs']))) {
        const list = ((rec(j)['steps'] as unknown[] | undefined) ?? []).map(rec);
        checked += list.length;
        found.push(...problems(list, `${file} job ${job}`));
      }
    }
    assert.ok(checked > 50, `${checked} steps checked`);
    assert.deepEqual(found, []);
  });

  it('the check finds what it is for', () => {
    const list = [
      { id: 'train', uses: 'acme/modelship/actions/train@v1', with: { epoch: '3' } },
      { uses: 'acme/modelship/actions/evaluate-gate@v1', with: { model: '${{ steps.train.outputs.model-folder }}' } },
    ];
    assert.deepEqual(problems(list, 'x'), ["x: train has no input 'epoch'", "x: train (steps.train) has no output 'model-folder'"]);
  });

  it('every modelship.yml in the docs and examples is valid', () => {
    const schema = configSchema(allSteps);
    const files = [
      ...docs.flatMap((f) => yamlBlocks(f).filter((b) => /^version: 1$/m.test(b.text))),
      { text: readFileSync(path.join(root, 'examples', 'modelship.yml'), 'utf8'), where: 'examples/modelship.yml' },
      { text: readFileSync(path.join(root, 'demo', 'modelship.yml'), 'utf8'), where: 'demo/modelship.yml' },
    ];
    assert.ok(files.length >= 3);
    for (const f of files) {
      const r = schema.safeParse(parse(f.text));
      assert.ok(r.success, `${f.where}: ${r.success ? '' : JSON.stringify(r.error.issues.slice(0, 3))}`);
    }
  });

  it('example workflows grant nothing at the top, and each job what its steps need', () => {
    for (const file of workflows) {
      const wf = rec(parse(readFileSync(path.join(root, file), 'utf8')));
      assert.deepEqual(wf['permissions'], {}, `${file}: top-level permissions`);
      for (const [id, j] of Object.entries(rec(wf['jobs']))) {
        const perms = rec(rec(j)['permissions']);
        assert.ok(Object.keys(perms).length > 0, `${file} job ${id} sets its permissions`);
        const list = ((rec(j)['steps'] as unknown[] | undefined) ?? []).map(rec);
        const uses = list.map((s) => (typeof s['uses'] === 'string' ? actionOf(s['uses']) : undefined));
        const need = (scope: string, level: string, why: string): void => {
          const have = perms[scope];
          assert.ok(have === 'write' || have === level, `${file} job ${id}: ${why} needs ${scope}: ${level}, has ${String(have)}`);
        };
        if (list.some((s) => actionOf(usesOf(s)) === 'evaluate-gate' && rec(s['with'])['comment'] !== 'false'))
          need('pull-requests', 'write', 'the PR comment');
        if (uses.includes('register')) need('packages', 'write', 'register');
        if (list.some((s) => actionOf(usesOf(s)) === 'deploy-rollout' && rec(s['with'])['promote-alias']))
          need('packages', 'write', 'promote-alias');
        if (list.some((s) => actionOf(usesOf(s)) === 'monitor-check' && rec(s['with'])['on-breach'] === 'dispatch'))
          need('actions', 'write', 'on-breach: dispatch');
        if (list.some((s) => usesOf(s).startsWith('actions/checkout') && !rec(s['with'])['repository']))
          need('contents', 'read', 'checking out this repository');
      }
    }
  });

  it('deploys never overlap: every job that runs deploy-rollout is in the modelship-deploy concurrency group', () => {
    for (const file of workflows) {
      const wf = rec(parse(readFileSync(path.join(root, file), 'utf8')));
      for (const [id, j] of Object.entries(rec(wf['jobs']))) {
        const list = ((rec(j)['steps'] as unknown[] | undefined) ?? []).map(rec);
        if (!list.some((s) => actionOf(usesOf(s)) === 'deploy-rollout')) continue;
        const c = rec(rec(j)['concurrency']);
        assert.equal(c['group'], 'modelship-deploy', `${file} job ${id}`);
        assert.equal(c['cancel-in-progress'], false, `${file} job ${id}: a rollout in progress is not cancelled`);
      }
    }
  });
});
