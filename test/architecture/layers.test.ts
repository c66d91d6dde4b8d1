/**
 * The shape of the core, checked on every run: each domain folder under shared/ has a public
 * index.ts, code in one domain reaches another only through that index, the folders depend on each
 * other without cycles, and nothing below the steps imports a step or a door.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const root = path.resolve(import.meta.dirname, '../../shared');
const DOORS = new Set(['action', 'cli']);

interface Edge {
  readonly file: string;
  readonly from: string;
  readonly to: string;
  readonly target: string;
}

function files(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? files(path.join(dir, e.name)) : e.name.endsWith('.ts') ? [path.join(dir, e.name)] : [],
  );
}

const domainOf = (file: string): string => path.relative(root, file).split(path.sep)[0];

/** Every relative import of a file: static, type-only, re-exports and dynamic import(). */
export function importsOf(source: string): string[] {
  const specs: string[] = [];
  for (const m of source.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'";]*?\bfrom\s+'(\.[^']+)'/g)) specs.push(m[1]);
  for (const m of source.matchAll(/(?:^|\n)\s*import\s+'(\.[^']+)'/g)) specs.push(m[1]);
  for (const m of source.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g)) specs.push(m[1]);
  return specs;
}

const all = files(root);
const edges: Edge[] = [];
for (const file of all) {
  for (const spec of importsOf(readFileSync(file, 'utf8'))) {
    const target = path.resolve(path.dirname(file), spec);
    if (!target.startsWith(root + path.sep)) continue;
    const from = domainOf(file);
    const to = domainOf(target);
    if (from !== to) edges.push({ file: path.relative(root, file), from, to, target: path.relative(root, target) });
  }
}
const domains = readdirSync(root).filter((d) => statSync(path.join(root, d)).isDirectory());

describe('the core package (shared/)', () => {
  it('finds the imports it checks (static, type-only and dynamic)', () => {
    assert.deepEqual(
      importsOf("import { a } from './x.ts';\nimport type { B } from '../y/index.ts';\nconst m = await import('../z/index.ts');"),
      ['./x.ts', '../y/index.ts', '../z/index.ts'],
    );
    assert.ok(edges.length > 50, `only ${edges.length} cross-domain imports found`);
  });

  it('has an index.ts, its public surface, in every domain folder', () => {
    const missing = domains.filter((d) => !statSync(path.join(root, d, 'index.ts'), { throwIfNoEntry: false }));
    assert.deepEqual(missing, []);
  });

  it('reaches another domain only through its index.ts', () => {
    const deep = edges.filter((e) => e.target !== path.join(e.to, 'index.ts')).map((e) => `${e.file} → ${e.target}`);
    assert.deepEqual(deep, []);
  });

  it('has no import cycles between domain folders', () => {
    const next = new Map<string, Set<string>>();
    for (const e of edges) (next.get(e.from) ?? next.set(e.from, new Set()).get(e.from)!).add(e.to);
    const cycles: string[] = [];
    const state = new Map<string, 'open' | 'done'>();
    const visit = (d: string, trail: string[]): void => {
      if (state.get(d) === 'done') return;
      if (state.get(d) === 'open') {
        cycles.push([...trail.slice(trail.indexOf(d)), d].join(' → '));
        return;
      }
      state.set(d, 'open');
      for (const n of next.get(d) ?? []) visit(n, [...trail, d]);
      state.set(d, 'done');
    };
    for (const d of domains) visit(d, []);
    const via = (c: string): string => {
      const hops = c.split(' → ');
      return hops
        .slice(1)
        .map((to, i) => edges.find((e) => e.from === hops[i] && e.to === to)?.file ?? '?')
        .join(', ');
    };
    assert.deepEqual(
      cycles.map((c) => `${c} (via ${via(c)})`),
      [],
    );
  });

  it('lets nothing below the steps import a step or a door', () => {
    const up = edges
      .filter((e) => !DOORS.has(e.from) && e.from !== 'steps' && (e.to === 'steps' || DOORS.has(e.to)))
      .map((e) => `${e.file} → ${e.target}`);
    assert.deepEqual(up, []);
    // The bundle's entry is both doors: run directly, it starts the CLI.
    const bundleEntry = (e: Edge): boolean => e.file === path.join('action', 'entry.ts') && e.target === path.join('cli', 'index.ts');
    const doorToDoor = edges.filter((e) => DOORS.has(e.from) && DOORS.has(e.to) && !bundleEntry(e)).map((e) => `${e.file} → ${e.target}`);
    assert.deepEqual(doorToDoor, []);
  });
});
