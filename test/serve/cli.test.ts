/**
 * `modelship serve` as a command: a registry reference (`fashion@production`) pulled from a local
 * registry and served under its alias, the ready line on stdout, SIGTERM → 0; help and refusals.
 */
import assert from 'node:assert/strict';
import { EventEmitter, once } from 'node:events';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { main } from '../../shared/cli/main.ts';
import { serveCommand } from '../../shared/cli/serve.ts';
import { openRegistry } from '../../shared/registry/index.ts';
import { memoryLogger, silentLogger } from '../../shared/util/log.ts';
import { image, makeImageModel, post, tempDir } from './helpers.ts';

function sink(): Writable & { text: () => string } {
  let text = '';
  const w = new Writable({
    write(chunk: Buffer, _enc, cb) {
      text += chunk.toString();
      cb();
    },
  }) as Writable & { text: () => string };
  w.text = () => text;
  return w;
}

describe('modelship serve', () => {
  it('serves fashion@production from a registry, prints the ready line, and stops on SIGTERM with 0', async (t) => {
    const dir = await tempDir(t);
    const registryDir = path.join(dir, 'registry');
    const registry = await openRegistry(registryDir, { log: silentLogger });
    await registry.push(await makeImageModel(path.join(dir, 'm1')), { name: 'fashion' });
    const v2 = await registry.push(await makeImageModel(path.join(dir, 'm2'), { seed: 4 }), { name: 'fashion' });
    await registry.setAlias('fashion', 'production', v2.version);

    const stdout = sink();
    const signals = new EventEmitter() as EventEmitter & Pick<NodeJS.Process, 'on' | 'off'>;
    const log = memoryLogger();
    const code = serveCommand(['--model', 'fashion@production', '--registry', registryDir, '--port', '0'], {
      log,
      stdout,
      cwd: dir,
      env: {},
      signals,
    });
    const deadline = performance.now() + 30_000;
    while (!stdout.text().includes('\n') && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const line = stdout.text().trim();
    assert.match(line, /^modelship serve ready url=http:\/\/127\.0\.0\.1:\d+ models=fashion:2\(production\) backend=\w+ load=\d+\.\d+s$/);
    const url = /url=(\S+)/.exec(line)![1];
    const r = await post(`${url}/v1/models/fashion/labels/production:predict`, { instances: [image()] });
    assert.equal(r.status, 200);
    const text = await (await fetch(`${url}/metrics`)).text();
    assert.ok(
      text.includes(`modelship_model_info{model="fashion",version="2",digest="${v2.digest}"} 1`),
      'the registry digest labels the version',
    );
    signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await code, 0);
    assert.ok(log.lines.some((l) => l.startsWith('pulled ') && l.includes('fashion:2@sha256:')));
  });

  it('prints its help, and refuses bad options with exit code 2 and the fix', async () => {
    const run = async (argv: string[]): Promise<{ code: number; out: string; err: string }> => {
      const stdout = sink();
      const stderr = sink();
      const code = await main(argv, { stdout, stderr, env: {}, cwd: process.cwd(), log: silentLogger });
      return { code, out: stdout.text(), err: stderr.text() };
    };
    const help = await run(['serve', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /--max-batch-size N/);
    assert.match((await run(['--help'])).out, /serve +serve models/);
    const cases: [string[], RegExp][] = [
      [['serve'], /no model to serve/],
      [['serve', '--model', './no/such/folder', '--port', '0'], /names a folder that does not exist/],
      [['serve', '--model', 'x', '--max-batch-size', '0'], /--max-batch-size: .*\n {2}TF Serving calls it max_batch_size/],
      [['serve', '--model', 'x', '--port', 'eighty'], /--port: 'eighty' is not a number/],
      [['serve', '--model', 'x', '--inject-error-rate', '0.5'], /needs --allow-fault-injection/],
      [['serve', '--model', 'Fashion@prod', '--port', '0'], /not a valid model reference/],
      [['serve', '--model', 'x', '--label', 'canary'], /is not label=version/],
    ];
    const busy = createServer().listen(0, '127.0.0.1');
    await once(busy, 'listening');
    cases.push([
      ['serve', '--model', 'x', '--port', String((busy.address() as AddressInfo).port)],
      /public port \d+ on 127\.0\.0\.1 is in use/,
    ]);
    for (const [argv, re] of cases) {
      const r = await run(argv);
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
    }
    busy.close();
  });
});
