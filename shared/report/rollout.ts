/**
 * deploy-rollout's job summary: what was deployed where, the outcome and why, each step with its
 * weight and the analysis verdict, and the alias moved. Pure.
 */
import type { DeployResult } from '../rollout/index.ts';
import { code, escapeMarkdown, table } from './markdown.ts';

const ICON: Record<DeployResult['status'], string> = { promoted: '✅', 'rolled-back': '↩️', unchanged: '➖', failed: '❌' };

export function rolloutSummary(r: DeployResult): string {
  const v = r.version;
  const lines: string[] = [];
  const what = v ? `${escapeMarkdown(v.name)} v${v.version}` : 'deploy-rollout';
  lines.push(`### ${ICON[r.status]} ${what} · ${r.status} · ${escapeMarkdown(r.where)}`, '');
  lines.push(escapeMarkdown(r.reason), '');
  const facts: string[] = [`strategy ${r.strategy}`];
  if (v) facts.push(`revision ${code(v.ref)}`);
  if (r.previous) facts.push(`replaced v${r.previous.version}`);
  if (r.url) facts.push(`endpoint ${code(r.url)}`);
  if (r.alias)
    facts.push(`${escapeMarkdown(r.alias.alias)}: ${r.alias.from !== undefined ? `v${r.alias.from}` : '(new)'} → v${r.alias.to}`);
  facts.push(`${r.seconds.toFixed(1)} s`);
  lines.push(facts.join(' · '), '');
  if (r.steps.length > 0) {
    lines.push(
      table(
        ['time', 'step', 'weight', 'note'],
        r.steps.map((s) => [s.at.slice(11, 19), s.action, s.weight !== undefined ? `${s.weight}%` : '', escapeMarkdown(s.note ?? '')]),
      ),
    );
  }
  return `${lines.join('\n').trimEnd()}\n`;
}
