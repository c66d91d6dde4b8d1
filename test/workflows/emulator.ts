/**
 * Runs a workflow file the way GitHub's runner does, on this machine, for the hand-off test.
 *
 * What is the real thing:
 *  - jobs in `needs` order, a fresh workspace each, `if:` conditions, step outcomes, job outputs
 *    (`jobs.<id>.outputs`), `needs.<id>.outputs`, `steps.<id>.outputs`, `env`, `inputs`, `secrets`
 *    and `github` contexts, every `${{ }}` evaluated (expressions.ts);
 *  - modelship's actions as their action.yml declares them: the inputs from `with:` plus the
 *    declared defaults (evaluated, `${{ github.token }}` included), INPUT_* variables,
 *    GITHUB_OUTPUT and GITHUB_STEP_SUMMARY files, through the Actions door (`runAction`, as the
 *    bundle's `runStep` calls it); composite actions (train, the root action.yml) step by step,
 *    with their `MODELSHIP_INPUTS: ${{ toJSON(inputs) }}` and output `value:` mappings;
 *  - `run:` steps, with bash, their `env:` and `working-directory`.
 *
 * What stands in (each says so in the step's note):
 *  - the bundle: the step definitions run in this process from the sources (the built bundle is
 *    test/build/bundle.test.ts's subject); the stub each action folder holds is checked to call
 *    `runStep('<its name>')`;
 *  - actions/checkout: a copy of the test's repository folder (or, for `repository:` modelship,
 *    this checkout); actions/setup-node: this process's Node first on PATH;
 *    actions/upload-artifact and download-artifact: a folder per artifact, copied in and out, with
 *    upload-artifact's rules (hidden files left out, `if-no-files-found`, one upload per name);
 *    actions/cache: always a miss;
 *  - `npm ci` / `npm install` in `run:` steps and the composite's tfjs-node install: not run (no
 *    downloads; this checkout's node_modules is what they would install).
 * Services the steps reach (GitHub's API, a registry, a cluster) are the caller's: the test points
 * the workflow at its stand-ins.
 */
import { spawn } from 'node:child_process';
import { cp, mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'yaml';
import { unpackInputs } from '../../shared/action/index.ts';
import { steps as allSteps } from '../../shared/steps/index.ts';
import { parseOutputFile, runAsRunner } from '../helpers/runner.ts';
import { asString, condition, interpolate, type Contexts, type Value } from './expressions.ts';

type Raw = Record<string, unknown>;

export interface StepResult {
  readonly id?: string;
  readonly label: string;
  readonly outcome: 'success' | 'failure' | 'skipped';
  readonly outputs: Record<string, string>;
  /** What stood in for the real thing, when something did. */
  readonly note?: string;
  /** The step's log and, on failure, its error. */
  readonly log: string;
  readonly error?: string;
}

export interface JobResult {
  readonly result: 'success' | 'failure' | 'skipped';
  readonly outputs: Record<string, string>;
  readonly steps: readonly StepResult[];
  readonly summary: string;
  readonly workspace?: string;
}

export interface WorkflowRun {
  readonly id: number;
  readonly file: string;
  readonly conclusion: 'success' | 'failure';
  readonly jobs: Record<string, JobResult>;
  /** The artifacts uploaded in this run: name → folder. */
  readonly artifacts: Map<string, string>;
}

export interface WorkflowEvent {
  readonly name: string;
  readonly payload?: Raw;
  /** For workflow_dispatch: the inputs given. */
  readonly inputs?: Readonly<Record<string, string>>;
  readonly ref?: string;
  readonly sha?: string;
}

export interface EmulatorOptions {
  /** This checkout: actions/, action.yml, bin/ (what `uses: owner/modelship…` and `./actions/…` resolve to). */
  readonly root: string;
  /** The `owner/name` the modelship actions are published under in the workflows (acme/modelship). */
  readonly modelshipRepo: string;
  /** The repository the workflows run in (owner/name). */
  readonly repository: string;
  /** Its files: what actions/checkout checks out. */
  readonly repoFiles: string;
  /** Where workspaces, runner temp folders and artifacts go. */
  readonly work: string;
  /** GITHUB_API_URL (the stand-in's). */
  readonly apiUrl: string;
  /** `github.token`. */
  readonly token: string;
  readonly secrets?: Readonly<Record<string, string>>;
  /**
   * Folders that outlive jobs, linked into every workspace at the same relative path (e.g. the
   * local deploy target's `.modelship/deploy`, which on Kubernetes is the cluster itself).
   */
  readonly shared?: Readonly<Record<string, string>>;
}

export interface RunOptions {
  /** Replaces values of the workflow's top-level `env:`. */
  readonly env?: Readonly<Record<string, string>>;
  /** `github.token` for this run (e.g. a fork PR's read-only token). */
  readonly token?: string;
  /** Run only these jobs; the others' results and artifacts come from `reuse` (GitHub's "re-run jobs"). */
  readonly only?: readonly string[];
  readonly reuse?: WorkflowRun;
  /** Called with the artifact folders before the jobs run (a test tampers with them here). */
  readonly beforeJobs?: (artifacts: Map<string, string>) => Promise<void>;
}

const THIRD_PARTY = ['actions/checkout', 'actions/setup-node', 'actions/upload-artifact', 'actions/download-artifact', 'actions/cache'];

function asRecord(v: unknown): Raw {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Raw) : {};
}

function toValue(v: unknown): Value {
  return v === undefined ? null : (JSON.parse(JSON.stringify(v)) as Value);
}

/** Copies a folder, leaving out every entry whose name starts with a dot (upload-artifact's default). */
async function copyVisible(from: string, to: string): Promise<number> {
  let files = 0;
  await mkdir(to, { recursive: true });
  for (const e of await readdir(from, { withFileTypes: true })) {
    if (e.name.startsWith('.')) continue;
    const a = path.join(from, e.name);
    const b = path.join(to, e.name);
    if (e.isDirectory()) files += await copyVisible(a, b);
    else if (e.isFile()) {
      await cp(a, b);
      files++;
    }
  }
  return files;
}

export class Emulator {
  private readonly o: EmulatorOptions;
  private nextRun = 9000;
  readonly runs: WorkflowRun[] = [];

  constructor(o: EmulatorOptions) {
    this.o = o;
  }

  async runWorkflow(file: string, event: WorkflowEvent, opts: RunOptions = {}): Promise<WorkflowRun> {
    const wf = asRecord(parse(await readFile(file, 'utf8')));
    const id = this.nextRun++;
    const runDir = await mkdtemp(path.join(this.o.work, `run-${id}-`));
    const artifacts = new Map<string, string>();
    if (opts.reuse) {
      for (const [name, dir] of opts.reuse.artifacts) {
        const copy = path.join(runDir, 'artifacts', name);
        await cp(dir, copy, { recursive: true });
        artifacts.set(name, copy);
      }
    }
    await opts.beforeJobs?.(artifacts);
    const run: WorkflowRun = { id, file, conclusion: 'success', jobs: {}, artifacts };
    const jobs = asRecord(wf['jobs']);
    const order = topological(jobs);
    const declaredInputs = asRecord(asRecord(asRecord(wf['on'])['workflow_dispatch'])['inputs']);
    const inputs: Record<string, Value> = {};
    for (const [name, d] of Object.entries(declaredInputs)) {
      const given = event.inputs?.[name];
      const def = asRecord(d)['default'];
      inputs[name] = given ?? (def !== undefined ? asString(toValue(def)) : null);
    }
    for (const [name, v] of Object.entries(event.inputs ?? {})) if (!(name in inputs)) inputs[name] = v;
    const payload = { ...(event.payload ?? {}), ...(event.name === 'workflow_dispatch' ? { inputs: event.inputs ?? {} } : {}) };
    const eventPath = path.join(runDir, 'event.json');
    await writeFile(eventPath, JSON.stringify(payload));
    const workflowEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(asRecord(wf['env']))) workflowEnv[k] = asString(toValue(v));
    Object.assign(workflowEnv, opts.env ?? {});
    const ref = event.ref ?? 'refs/heads/main';
    const github: Record<string, Value> = {
      token: opts.token ?? this.o.token,
      repository: this.o.repository,
      repository_owner: this.o.repository.split('/')[0],
      event_name: event.name,
      event: toValue(payload),
      actor: 'octocat',
      ref,
      ref_name: ref.replace(/^refs\/(heads|tags)\//, ''),
      sha: event.sha ?? 'a'.repeat(40),
      run_id: String(id),
      run_number: String(this.runs.length + 1),
      workflow: asString(toValue(wf['name'] ?? path.basename(file))),
      server_url: 'https://github.com',
      api_url: this.o.apiUrl,
    };
    const githubEnv = {
      GITHUB_REPOSITORY: this.o.repository,
      GITHUB_EVENT_NAME: event.name,
      GITHUB_EVENT_PATH: eventPath,
      GITHUB_API_URL: this.o.apiUrl,
      GITHUB_SERVER_URL: 'https://github.com',
      GITHUB_SHA: asString(github['sha']),
      GITHUB_REF: ref,
      GITHUB_REF_NAME: asString(github['ref_name']),
      GITHUB_RUN_ID: String(id),
      GITHUB_RUN_NUMBER: asString(github['run_number']),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_WORKFLOW: asString(github['workflow']),
      GITHUB_WORKFLOW_REF: `${this.o.repository}/.github/workflows/${path.basename(file)}@${ref}`,
      GITHUB_ACTOR: 'octocat',
    };

    for (const jobId of order) {
      const job = asRecord(jobs[jobId]);
      const needs = ([] as string[]).concat((job['needs'] as string | string[] | undefined) ?? []);
      if (opts.only && !opts.only.includes(jobId)) {
        const earlier = opts.reuse?.jobs[jobId];
        if (!earlier) throw new Error(`job ${jobId}: not run, and no earlier run to take it from`);
        run.jobs[jobId] = earlier;
        continue;
      }
      const needsCtx: Record<string, Value> = {};
      for (const n of needs) needsCtx[n] = { result: run.jobs[n]?.result ?? 'skipped', outputs: run.jobs[n]?.outputs ?? {} };
      const needsOk = needs.every((n) => run.jobs[n]?.result === 'success');
      const base: Contexts = {
        github,
        env: workflowEnv,
        inputs,
        secrets: { GITHUB_TOKEN: asString(github['token']), ...(this.o.secrets ?? {}) },
        vars: {},
        needs: needsCtx,
        runner: { os: 'Linux', arch: 'X64', name: 'emulator', temp: path.join(runDir, 'temp') },
      };
      const jobIf = job['if'] as string | boolean | undefined;
      if (!condition(jobIf, base, { success: needsOk, failure: !needsOk })) {
        run.jobs[jobId] = { result: 'skipped', outputs: {}, steps: [], summary: '' };
        continue;
      }
      run.jobs[jobId] = await this.runJob(jobId, job, base, { runDir, artifacts, githubEnv, workflowEnv, runs: this.runs });
    }
    const conclusion = Object.values(run.jobs).some((j) => j.result === 'failure') ? 'failure' : 'success';
    const done: WorkflowRun = { ...run, conclusion };
    this.runs.push(done);
    return done;
  }

  private async runJob(
    jobId: string,
    job: Raw,
    base: Contexts,
    r: {
      runDir: string;
      artifacts: Map<string, string>;
      githubEnv: Record<string, string>;
      workflowEnv: Record<string, string>;
      runs: readonly WorkflowRun[];
    },
  ): Promise<JobResult> {
    const workspace = path.join(r.runDir, 'jobs', jobId);
    const temp = path.join(r.runDir, 'temp', jobId);
    await mkdir(workspace, { recursive: true });
    await mkdir(temp, { recursive: true });
    for (const [rel, target] of Object.entries(this.o.shared ?? {})) {
      await mkdir(path.dirname(path.join(workspace, rel)), { recursive: true });
      await mkdir(target, { recursive: true });
      await symlink(target, path.join(workspace, rel));
    }
    const jobEnv: Record<string, string> = { ...r.workflowEnv };
    const stepsCtx: Record<string, Value> = {};
    const results: StepResult[] = [];
    const summaries: string[] = [];
    let failed = false;
    const state = { pathPrefix: '' };
    const ctxWith = (env: Record<string, string>): Contexts => ({
      ...base,
      github: { ...(base['github'] as Record<string, Value>), workspace },
      env,
      steps: stepsCtx,
      runner: { ...(base['runner'] as Record<string, Value>), temp },
      job: { status: failed ? 'failure' : 'success' },
    });
    for (const [k, v] of Object.entries(asRecord(job['env']))) jobEnv[k] = interpolate(asString(toValue(v)), ctxWith(jobEnv));
    const processEnv = { ...r.githubEnv, GITHUB_WORKSPACE: workspace, RUNNER_TEMP: temp, RUNNER_OS: 'Linux', RUNNER_ARCH: 'X64' };

    for (const [i, rawStep] of ((job['steps'] as unknown[] | undefined) ?? []).entries()) {
      const step = asRecord(rawStep);
      const id = step['id'] as string | undefined;
      const label = (step['name'] as string | undefined) ?? (step['uses'] as string | undefined) ?? `run #${i + 1}`;
      const stepEnv: Record<string, string> = { ...jobEnv };
      const status = { success: !failed, failure: failed };
      if (!condition(step['if'] as string | boolean | undefined, ctxWith(jobEnv), status)) {
        results.push({ ...(id ? { id } : {}), label, outcome: 'skipped', outputs: {}, log: '' });
        if (id) stepsCtx[id] = { outputs: {}, outcome: 'skipped', conclusion: 'skipped' };
        continue;
      }
      for (const [k, v] of Object.entries(asRecord(step['env']))) stepEnv[k] = interpolate(asString(toValue(v)), ctxWith(jobEnv), status);
      const ctx = ctxWith(stepEnv);
      const withs: Record<string, string> = {};
      for (const [k, v] of Object.entries(asRecord(step['with']))) withs[k] = interpolate(asString(toValue(v)), ctx, status);
      let result: StepResult;
      try {
        if (typeof step['run'] === 'string') {
          const script = interpolate(step['run'], ctx, status);
          const cwd = step['working-directory'] ? path.resolve(workspace, asString(toValue(step['working-directory']))) : workspace;
          result = await this.runShell(label, id, script, cwd, { ...processEnv, ...stepEnv }, state.pathPrefix, summaries);
        } else if (typeof step['uses'] === 'string') {
          result = await this.uses(label, id, step['uses'], withs, { ...processEnv, ...stepEnv }, ctx, {
            workspace,
            state,
            artifacts: r.artifacts,
            runs: r.runs,
            summaries,
          });
        } else throw new Error(`step ${label}: neither run nor uses`);
      } catch (err) {
        result = { ...(id ? { id } : {}), label, outcome: 'failure', outputs: {}, log: '', error: (err as Error).stack ?? String(err) };
      }
      results.push(result);
      if (id) stepsCtx[id] = { outputs: result.outputs, outcome: result.outcome, conclusion: result.outcome };
      if (result.outcome === 'failure') failed = true;
    }
    const outputs: Record<string, string> = {};
    for (const [k, v] of Object.entries(asRecord(job['outputs']))) outputs[k] = interpolate(asString(toValue(v)), ctxWith(jobEnv));
    return { result: failed ? 'failure' : 'success', outputs, steps: results, summary: summaries.join(''), workspace };
  }

  private async runShell(
    label: string,
    id: string | undefined,
    script: string,
    cwd: string,
    env: Record<string, string>,
    pathPrefix: string,
    summaries: string[],
  ): Promise<StepResult> {
    const head = script.trimStart();
    if (/^npm (ci|install)\b/.test(head))
      return {
        ...(id ? { id } : {}),
        label,
        outcome: 'success',
        outputs: {},
        log: '',
        note: 'stand-in: not run (it installs packages from the registry); this checkout’s node_modules is what it would install',
      };
    const dir = await mkdtemp(path.join(env['RUNNER_TEMP'] ?? this.o.work, 'step-'));
    const out = path.join(dir, 'output');
    const summary = path.join(dir, 'summary');
    await writeFile(out, '');
    await writeFile(summary, '');
    const scriptFile = path.join(dir, 'script.sh');
    await writeFile(scriptFile, script);
    const { code, text } = await new Promise<{ code: number | null; text: string }>((resolve) => {
      const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', scriptFile], {
        cwd,
        env: {
          PATH: `${pathPrefix}${process.env['PATH'] ?? ''}`,
          HOME: process.env['HOME'] ?? dir,
          ...env,
          GITHUB_OUTPUT: out,
          GITHUB_STEP_SUMMARY: summary,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let text = '';
      child.stdout.on('data', (c: Buffer) => (text += c.toString()));
      child.stderr.on('data', (c: Buffer) => (text += c.toString()));
      child.on('close', (c) => resolve({ code: c, text }));
    });
    summaries.push(await readFile(summary, 'utf8'));
    return {
      ...(id ? { id } : {}),
      label,
      outcome: code === 0 ? 'success' : 'failure',
      outputs: parseOutputFile(await readFile(out, 'utf8')),
      log: text,
      ...(code === 0 ? {} : { error: `exit code ${String(code)}: ${text.slice(-2000)}` }),
    };
  }

  private async uses(
    label: string,
    id: string | undefined,
    uses: string,
    withs: Record<string, string>,
    env: Record<string, string>,
    ctx: Contexts,
    j: {
      workspace: string;
      state: { pathPrefix: string };
      artifacts: Map<string, string>;
      runs: readonly WorkflowRun[];
      summaries: string[];
    },
  ): Promise<StepResult> {
    const idPart = id ? { id } : {};
    const ok = (outputs: Record<string, string>, note: string): StepResult => ({
      ...idPart,
      label,
      outcome: 'success',
      outputs,
      note,
      log: '',
    });
    const fail = (error: string): StepResult => ({ ...idPart, label, outcome: 'failure', outputs: {}, log: '', error });
    const at = uses.indexOf('@');
    const name = at >= 0 ? uses.slice(0, at) : uses;
    const local = name.startsWith('./')
      ? name.slice(2)
      : name === this.o.modelshipRepo || name.startsWith(`${this.o.modelshipRepo}/`)
        ? name.slice(this.o.modelshipRepo.length + 1)
        : undefined;
    if (local !== undefined) return this.runAction(label, id, path.join(this.o.root, local), withs, env, ctx, j);
    if (!THIRD_PARTY.includes(name)) throw new Error(`the emulator has no stand-in for ${uses}`);
    const ws = j.workspace;
    switch (name) {
      case 'actions/checkout': {
        const dest = path.resolve(ws, withs['path'] || '.');
        if (withs['repository'] && withs['repository'] !== this.o.repository) {
          if (withs['repository'] !== this.o.modelshipRepo) throw new Error(`checkout of ${withs['repository']}: unknown repository`);
          await mkdir(path.dirname(dest), { recursive: true });
          await symlink(this.o.root, dest);
          return ok({}, `stand-in: ${withs['repository']} is this checkout of modelship (linked at ${withs['path']})`);
        }
        await cp(this.o.repoFiles, dest, { recursive: true });
        return ok({}, 'stand-in: a copy of the test repository');
      }
      case 'actions/setup-node':
        j.state.pathPrefix = `${path.dirname(process.execPath)}:`;
        return ok({}, `stand-in: this process's Node ${process.version} first on PATH`);
      case 'actions/cache':
        return ok({ 'cache-hit': '' }, 'stand-in: a cache miss');
      case 'actions/upload-artifact': {
        const art = withs['name'] || 'artifact';
        const lines = (withs['path'] ?? '').split('\n').filter((l) => l.trim() !== '');
        if (lines.length !== 1 || /[*?!]/.test(lines[0]))
          throw new Error(`upload-artifact: the emulator takes one plain path, got ${JSON.stringify(withs['path'])}`);
        if (j.artifacts.has(art)) return fail(`upload-artifact: an artifact named ${art} already exists in this run`);
        const src = path.resolve(ws, lines[0]);
        const st = await stat(src).catch(() => undefined);
        const dest = path.join(path.dirname(path.dirname(ws)), 'artifacts', art);
        await rm(dest, { recursive: true, force: true });
        let files = 0;
        const hidden = withs['include-hidden-files'] === 'true';
        if (st?.isDirectory() && (hidden || !path.basename(src).startsWith('.'))) {
          files = hidden ? (await cp(src, dest, { recursive: true }), 1) : await copyVisible(src, dest);
        } else if (st?.isFile() && (hidden || !path.basename(src).startsWith('.'))) {
          await mkdir(dest, { recursive: true });
          await cp(src, path.join(dest, path.basename(src)));
          files = 1;
        }
        if (files === 0) {
          const mode = withs['if-no-files-found'] || 'warn';
          const msg = `No files were found with the provided path: ${lines[0]}. No artifacts will be uploaded.`;
          if (mode === 'error') return fail(`upload-artifact: ${msg}`);
          return ok({}, `stand-in upload-artifact: ${msg}`);
        }
        j.artifacts.set(art, dest);
        return ok({ 'artifact-id': String(j.artifacts.size) }, `stand-in: artifact ${art} stored as a folder (hidden files left out)`);
      }
      case 'actions/download-artifact': {
        const art = withs['name'];
        if (!art) throw new Error('download-artifact: the emulator needs a name');
        const runId = withs['run-id'];
        const store = runId ? this.runs.find((x) => String(x.id) === runId)?.artifacts : j.artifacts;
        const src = store?.get(art);
        if (!src) return fail(`download-artifact: Unable to download artifact(s): Artifact not found for name: ${art}`);
        const dest = path.resolve(ws, withs['path'] || '.');
        await mkdir(dest, { recursive: true });
        await cp(src, dest, { recursive: true });
        return ok({ 'download-path': dest }, `stand-in: artifact ${art} copied to ${withs['path'] || '.'}`);
      }
      default:
        throw new Error(`unreachable: ${name}`);
    }
  }

  /** A modelship action folder: its action.yml's inputs and defaults, then node24 or composite. */
  private async runAction(
    label: string,
    id: string | undefined,
    dir: string,
    withs: Record<string, string>,
    env: Record<string, string>,
    ctx: Contexts,
    j: { workspace: string; summaries: string[] },
  ): Promise<StepResult> {
    const yml = asRecord(parse(await readFile(path.join(dir, 'action.yml'), 'utf8')));
    const declared = asRecord(yml['inputs']);
    for (const k of Object.keys(withs))
      if (!(k in declared)) throw new Error(`${label}: input '${k}' is not declared in ${path.relative(this.o.root, dir)}/action.yml`);
    const inputs: Record<string, string> = {};
    for (const [k, d] of Object.entries(declared)) {
      const def = asRecord(d)['default'];
      inputs[k] = k in withs ? withs[k] : def !== undefined ? interpolate(asString(toValue(def)), ctx) : '';
    }
    const runs = asRecord(yml['runs']);
    const idPart = id ? { id } : {};
    if (runs['using'] === 'node24') {
      const stepName = await this.stubStep(dir);
      // The runner sets INPUT_<NAME> for the inputs given and the declared defaults.
      const given: Record<string, string> = {};
      for (const [k, v] of Object.entries(inputs)) if (v !== '' || k in withs) given[k] = v;
      const r = await runAsRunner(allSteps[stepName], given, { env, cwd: j.workspace });
      j.summaries.push(r.summary);
      return {
        ...idPart,
        label,
        outcome: r.failed ? 'failure' : 'success',
        outputs: r.outputs,
        log: r.log,
        note: 'stand-in: the step definition in this process, through the Actions door (not the bundle)',
        ...(r.failed
          ? {
              error:
                r.commands
                  .match(/::error::.*/g)
                  ?.join('\n')
                  .replace(/%0A/g, '\n') ?? 'failed',
            }
          : {}),
      };
    }
    if (runs['using'] !== 'composite') throw new Error(`${label}: runs.using ${String(runs['using'])} is not emulated`);
    const inner: Record<string, Value> = {};
    let failed = false;
    const logs: string[] = [];
    const notes: string[] = [];
    for (const raw of (runs['steps'] as unknown[] | undefined) ?? []) {
      const s = asRecord(raw);
      const sid = s['id'] as string | undefined;
      const sctx: Contexts = { ...ctx, inputs, steps: inner, github: { ...(ctx['github'] as Record<string, Value>), action_path: dir } };
      const status = { success: !failed, failure: failed };
      if (!condition(s['if'] as string | undefined, sctx, status)) {
        if (sid) inner[sid] = { outputs: {}, outcome: 'skipped' };
        continue;
      }
      const senv: Record<string, string> = { ...env };
      for (const [k, v] of Object.entries(asRecord(s['env']))) senv[k] = interpolate(asString(toValue(v)), sctx, status);
      const sname = typeof s['name'] === 'string' ? s['name'] : asString(toValue(s['uses'] ?? s['run']));
      let outcome: 'success' | 'failure' = 'success';
      let outputs: Record<string, string> = {};
      if (typeof s['uses'] === 'string') {
        const w: Record<string, string> = {};
        for (const [k, v] of Object.entries(asRecord(s['with']))) w[k] = interpolate(asString(toValue(v)), sctx, status);
        const r = await this.uses(sname, sid, s['uses'], w, senv, sctx, {
          workspace: j.workspace,
          state: { pathPrefix: '' },
          artifacts: new Map(),
          runs: [],
          summaries: j.summaries,
        });
        outcome = r.outcome === 'failure' ? 'failure' : 'success';
        outputs = r.outputs;
        if (r.note) notes.push(`${sname}: ${r.note}`);
      } else if (typeof s['run'] === 'string') {
        const entry = /node "\$GITHUB_ACTION_PATH\/(?:actions\/([a-z-]+)\/)?index\.js"/.exec(s['run']);
        if (entry) {
          const stepDir = entry[1] ? path.join(dir, 'actions', entry[1]) : dir;
          const stepName = await this.stubStep(stepDir);
          const r = await runAsRunner(allSteps[stepName], {}, { env: senv, cwd: j.workspace, prepare: () => unpackInputs() });
          j.summaries.push(r.summary);
          logs.push(r.log);
          outcome = r.failed ? 'failure' : 'success';
          outputs = r.outputs;
          if (r.failed)
            logs.push(
              r.commands
                .match(/::error::.*/g)
                ?.join('\n')
                .replace(/%0A/g, '\n') ?? 'failed',
            );
        } else if (/npm install/.test(s['run'])) {
          notes.push(`${sname}: stand-in: not run (it downloads tfjs-node); training runs on wasm`);
        } else {
          const r = await this.runShell(sname, sid, interpolate(s['run'], sctx, status), j.workspace, senv, '', j.summaries);
          outcome = r.outcome === 'failure' ? 'failure' : 'success';
          outputs = r.outputs;
          logs.push(r.log);
        }
      }
      if (sid) inner[sid] = { outputs, outcome };
      if (outcome === 'failure') failed = true;
    }
    const outputs: Record<string, string> = {};
    for (const [k, d] of Object.entries(asRecord(yml['outputs'])))
      outputs[k] = interpolate(asString(toValue(asRecord(d)['value'])), { ...ctx, inputs, steps: inner });
    return {
      ...idPart,
      label,
      outcome: failed ? 'failure' : 'success',
      outputs,
      log: logs.join('\n'),
      note: ['composite, step by step', ...notes].join('; '),
      ...(failed ? { error: logs.join('\n').slice(-3000) } : {}),
    };
  }

  /** The step an action folder's stub runs (`runStep('<name>')`), checked against the folder's name. */
  private async stubStep(dir: string): Promise<string> {
    const stub = await readFile(path.join(dir, 'index.js'), 'utf8');
    const name = /runStep\('([a-z-]+)'\)/.exec(stub)?.[1];
    if (!name || !allSteps[name]) throw new Error(`${dir}/index.js does not run a known step`);
    if (name !== path.basename(dir)) throw new Error(`${dir}/index.js runs '${name}', not the step of its folder`);
    return name;
  }
}

/** Job ids in an order where each comes after the jobs it needs. */
function topological(jobs: Raw): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const visit = (id: string, trail: string[]): void => {
    if (seen.has(id)) return;
    if (trail.includes(id)) throw new Error(`jobs need each other: ${[...trail, id].join(' → ')}`);
    const job = asRecord(jobs[id]);
    if (!jobs[id]) throw new Error(`job ${trail.at(-1) ?? '?'} needs ${id}, which does not exist`);
    for (const n of ([] as string[]).concat((job['needs'] as string | string[] | undefined) ?? [])) visit(n, [...trail, id]);
    seen.add(id);
    out.push(id);
  };
  for (const id of Object.keys(jobs)) visit(id, []);
  return out;
}
