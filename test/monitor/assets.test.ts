/**
 * The monitoring assets generated from the SLO table: Prometheus alerting rules that pass
 * `promtool check rules` and `promtool test rules` (Debian's promtool), and the Grafana dashboard;
 * the committed files under monitoring/ are what the generators write.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { monitorCommand } from '../../shared/cli/monitor.ts';
import { grafanaDashboard, grafanaDashboardJson, SLO_METRICS } from '../../shared/monitor/index.ts';
import { memoryLogger } from '../../shared/util/log.ts';

const run = promisify(execFile);
const PROMTOOL = '/usr/bin/promtool';
const repoRoot = path.resolve(import.meta.dirname, '../..');

async function command(argv: string[], cwd: string): Promise<{ code: number; stdout: string }> {
  const out = new PassThrough();
  let stdout = '';
  out.on('data', (c: Buffer) => (stdout += c.toString()));
  const code = await monitorCommand(argv, { log: memoryLogger(), stdout: out, cwd, env: {} });
  return { code, stdout };
}

interface RuleFile {
  groups: {
    name: string;
    rules: { alert: string; expr: string; for: string; labels: Record<string, string>; annotations: Record<string, string> }[];
  }[];
}

describe('alerting rules from the SLO table', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'modelship-alerts-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('pass promtool check rules and promtool test rules: they fire on the breaching version only', async () => {
    const r = await command(
      [
        'rules',
        '--slos',
        'p95_latency_ms <= 100',
        '--slos',
        'error_rate <= 0.01',
        '--slos',
        'availability >= 0.99',
        '--name',
        'fashion',
        '--out',
        'alerts.yml',
      ],
      dir,
    );
    assert.equal(r.code, 0);
    const check = await run(PROMTOOL, ['check', 'rules', path.join(dir, 'alerts.yml')]);
    assert.match(check.stdout, /SUCCESS: 3 rules found/);
    const rules = (parse(await readFile(path.join(dir, 'alerts.yml'), 'utf8')) as RuleFile).groups[0].rules;
    assert.deepEqual(
      rules.map((x) => x.alert),
      ['ModelshipP95LatencyMsHigh', 'ModelshipErrorRateHigh', 'ModelshipAvailabilityLow'],
    );
    const expand = (alert: string, version: string, value: string) => {
      const a = rules.find((x) => x.alert === alert)!.annotations;
      return {
        summary: a['summary']
          .replace('{{ $labels.model }}', 'fashion')
          .replace('{{ $labels.version }}', version)
          .replace('{{ $value | printf "%.4g" }}', value),
        description: a['description'],
      };
    };
    const bucket = (v: string, le: string, perMinute: number) =>
      `      - series: 'modelship_request_duration_seconds_bucket{model="fashion",version="${v}",le="${le}"}'\n        values: '0+${perMinute}x20'`;
    const les = ['0.01', '0.25', '0.5', '+Inf'];
    const series = [
      // v3: every request takes 0.25–0.5 s (p95 = 487.5 ms); v2: every request ≤ 10 ms.
      ...les.map((le) => bucket('3', le, le === '0.01' || le === '0.25' ? 0 : 60)),
      `      - series: 'modelship_request_duration_seconds_count{model="fashion",version="3"}'\n        values: '0+60x20'`,
      ...les.map((le) => bucket('2', le, 60)),
      `      - series: 'modelship_request_duration_seconds_count{model="fashion",version="2"}'\n        values: '0+60x20'`,
      // v3: 10% of predictions answered 500; v2: only health checks fail, which are not traffic.
      `      - series: 'modelship_requests_total{model="fashion",version="3",api="predict",code="500"}'\n        values: '0+6x20'`,
      `      - series: 'modelship_requests_total{model="fashion",version="3",api="predict",code="200"}'\n        values: '0+54x20'`,
      `      - series: 'modelship_requests_total{model="fashion",version="2",api="predict",code="200"}'\n        values: '0+60x20'`,
      `      - series: 'modelship_requests_total{model="fashion",version="2",api="health",code="500"}'\n        values: '0+100x20'`,
    ];
    const expect = (alert: string, slo: string, value: string) => [
      `      - eval_time: 15m`,
      `        alertname: ${alert}`,
      `        exp_alerts:`,
      `          - exp_labels: { severity: warning, slo: ${slo}, model: fashion, version: "3" }`,
      `            exp_annotations: ${JSON.stringify(expand(alert, '3', value))}`,
    ];
    const test = [
      'rule_files: [alerts.yml]',
      'evaluation_interval: 1m',
      'tests:',
      '  - interval: 1m',
      '    input_series:',
      ...series,
      '    alert_rule_test:',
      ...expect('ModelshipP95LatencyMsHigh', 'p95_latency_ms', '487.5'),
      ...expect('ModelshipErrorRateHigh', 'error_rate', '0.1'),
      ...expect('ModelshipAvailabilityLow', 'availability', '0.9'),
      // Not yet: a breach must hold for 5m before the alert fires.
      '      - eval_time: 4m',
      '        alertname: ModelshipErrorRateHigh',
      '        exp_alerts: []',
      '',
    ].join('\n');
    await writeFile(path.join(dir, 'alerts.test.yml'), test);
    const t = await run(PROMTOOL, ['test', 'rules', 'alerts.test.yml'], { cwd: dir }).catch((e: { stdout?: string; stderr?: string }) => {
      throw new Error(`promtool test rules failed:\n${e.stdout ?? ''}${e.stderr ?? ''}\n${test}`);
    });
    assert.match(t.stdout, /SUCCESS/);
  });

  it('takes the SLOs from modelship.yml, and refuses what it cannot alert on', async () => {
    await writeFile(path.join(dir, 'modelship.yml'), 'monitor:\n  slos: [p99_latency_ms <= 250]\n');
    const r = await command(['rules'], dir);
    assert.equal(r.code, 0);
    const file = parse(r.stdout) as RuleFile;
    assert.deepEqual(
      file.groups[0].rules.map((x) => x.alert),
      ['ModelshipP99LatencyMsHigh'],
    );
    assert.equal(file.groups[0].name, 'modelship-slos');
    await assert.rejects(command(['rules', '--slos', 'prediction_psi <= 0.2'], dir), /unknown metric 'prediction_psi'/);
    await assert.rejects(command(['rules', '--window', '5 minutes'], dir), /must be a duration/);
    await assert.rejects(command(['nope'], dir), /unknown command 'nope'/);
    assert.equal((await command(['--help'], dir)).code, 0);
  });
});

describe('the committed monitoring files', () => {
  it('monitoring/alerts.yml is what `modelship monitor rules` writes (default SLOs, every model)', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'modelship-alerts-'));
    try {
      const r = await command(['rules'], dir);
      assert.equal(
        await readFile(path.join(repoRoot, 'monitoring', 'alerts.yml'), 'utf8'),
        r.stdout,
        'regenerate: modelship monitor rules --out monitoring/alerts.yml',
      );
      await writeFile(path.join(dir, 'alerts.yml'), r.stdout);
      await run(PROMTOOL, ['check', 'rules', path.join(dir, 'alerts.yml')]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('monitoring/grafana-dashboard.json is what `modelship monitor dashboard` writes', async () => {
    assert.equal(
      await readFile(path.join(repoRoot, 'monitoring', 'grafana-dashboard.json'), 'utf8'),
      grafanaDashboardJson(),
      'regenerate: modelship monitor dashboard --out monitoring/grafana-dashboard.json',
    );
  });

  it('has a panel per SLO whose query is the SLO table’s, per model and version', () => {
    const d = grafanaDashboard() as { panels: { title: string; targets: { expr: string; legendFormat: string }[] }[] };
    const scope = { selector: 'model=~"$model",version=~"$version"', window: '$__rate_interval', by: ['model', 'version'] };
    for (const m of SLO_METRICS) {
      const panel = d.panels.find((p) => p.title === m.title);
      assert.ok(panel, `a panel for ${m.name}`);
      assert.equal(panel.targets[0].expr, m.promql(scope));
      assert.equal(panel.targets[0].legendFormat, '{{model}} v{{version}}');
    }
  });
});
