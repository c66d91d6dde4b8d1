/**
 * register's job summary: the version, the aliases moved, its metrics and lineage. Pure.
 */
import type { RegisterResult } from '../registry/index.ts';
import { shortDigest } from '../util/index.ts';
import { code, escapeMarkdown, table } from './markdown.ts';

/** The job summary of a registration. Pure. */
export function registerSummary(r: RegisterResult): string {
  const v = r.version;
  const lines: string[] = [];
  lines.push(
    `### ${v.created ? '📦' : '♻️'} ${escapeMarkdown(v.name)} v${v.version} ${v.created ? 'registered' : 'was already registered'}`,
  );
  lines.push('');
  lines.push(`${code(v.ref)}`);
  lines.push('');
  if (r.moves.length > 0) {
    lines.push(
      table(
        ['alias', 'from', 'to'],
        r.moves.map((m) => [
          code(m.alias),
          m.from ? (m.from.digest === m.to.digest ? `v${m.from.version} (unchanged)` : `v${m.from.version}`) : '(new)',
          `v${m.to.version}`,
        ]),
      ),
    );
    lines.push('');
  }
  const metrics = Object.entries(v.config.metrics);
  if (metrics.length > 0) {
    lines.push(
      table(
        ['metric', 'value'],
        metrics.map(([k, val]) => [escapeMarkdown(k), Number.isInteger(val) ? String(val) : val.toFixed(4)]),
        ['left', 'right'],
      ),
    );
    lines.push('');
  }
  const lineage: string[] = [];
  if (v.config.parent) {
    const p = v.config.parent;
    lineage.push(
      `parent ${p.version !== undefined ? `v${p.version}` : ''}${p.digest ? ` ${code(shortDigest(p.digest))}` : ''}`
        .replace(/\s+/g, ' ')
        .trim(),
    );
  }
  if (v.config.dataset) lineage.push(`data ${code(shortDigest(v.config.dataset.digest))}`);
  if (v.config.git?.commit) lineage.push(`commit ${code(v.config.git.commit.slice(0, 7))}`);
  if (v.config.run?.url && /^https:\/\/[^\s)]+$/.test(v.config.run.url)) lineage.push(`[run](${v.config.run.url})`);
  if (v.config.gatePassed !== undefined) lineage.push(v.config.gatePassed ? 'gate ✅ passed' : 'gate ❌ did not pass');
  if (lineage.length > 0) lines.push(lineage.join(' · '));
  return `${lines.join('\n').trimEnd()}\n`;
}
