/**
 * `modelship comment`: phase two of the fork-safe PR comment, from the command line of a
 * `workflow_run` workflow (with pull-requests: write), which downloaded the gate's report artifact.
 * The report is untrusted (a fork's code produced it): it is validated and re-rendered, never
 * posted as given, and the PR number comes from the `workflow_run` event, never from the artifact.
 */
import path from 'node:path';
import {
  commentMarker,
  findPullForWorkflowRun,
  githubClient,
  isReadOnlyTokenError,
  readGithubContext,
  upsertComment,
  workflowRunHead,
  type GithubClient,
  type UpsertResult,
} from '../github/index.ts';
import { readGateReport, renderGateMarkdown } from '../report/index.ts';
import { ConfigurationError, type Logger } from '../util/index.ts';
import { parseOptions } from './args.ts';

/** `modelship comment` (to be registered among the CLI subcommands). Returns the exit code. */
export async function commentCommand(
  argv: string[],
  io: { log: Logger; stdout: NodeJS.WritableStream; cwd: string; env: Readonly<Record<string, string | undefined>> },
): Promise<number> {
  const { values: args, help } = parseOptions(argv, { valued: ['report', 'pr', 'workflow'] }, 'comment');
  if (help) {
    io.stdout.write(
      [
        'modelship comment --report <report.json> [--pr <number>] [--workflow <file>]',
        '',
        "Upserts evaluate-gate's PR comment from a report (phase two of the fork-safe pattern).",
        'The PR defaults to the one of the workflow_run event (GITHUB_EVENT_PATH); the token is GITHUB_TOKEN.',
        '',
      ].join('\n'),
    );
    return 0;
  }
  if (!args['report'])
    throw new ConfigurationError(
      'modelship comment needs --report <report.json>.',
      'Pass the report.json from the evaluate-gate artifact.',
    );
  let pr: number | undefined;
  if (args['pr'] !== undefined) {
    if (!/^[1-9]\d*$/.test(args['pr']))
      throw new ConfigurationError(
        `--pr must be a pull request number, got '${args['pr']}'.`,
        'Leave --pr out to take it from the workflow_run event.',
      );
    pr = Number(args['pr']);
  }
  const r = await postReportComment({
    report: path.resolve(io.cwd, args['report']),
    ...(pr !== undefined ? { pr } : {}),
    ...(args['workflow'] ? { workflow: args['workflow'] } : {}),
    token: io.env['GITHUB_TOKEN'],
    env: io.env,
    log: io.log,
  });
  io.stdout.write(`comment-url=${r.url}\n`);
  return 0;
}

export interface PostReportCommentOptions {
  /** Path to report.json (e.g. from the downloaded artifact). */
  readonly report: string;
  /** The PR to comment on; default: the PR of the `workflow_run` event in GITHUB_EVENT_PATH. */
  readonly pr?: number;
  /** Workflow key of the marker; default: the file of the workflow that ran the gate (from the event). */
  readonly workflow?: string;
  readonly token: string | undefined;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly log: Logger;
  readonly client?: GithubClient;
}

export interface PostReportCommentResult extends UpsertResult {
  readonly pr: number;
}

export async function postReportComment(opts: PostReportCommentOptions): Promise<PostReportCommentResult> {
  const { log } = opts;
  if (!opts.token)
    throw new ConfigurationError(
      'no GitHub token to post the comment with.',
      'Set GITHUB_TOKEN (env: GITHUB_TOKEN: ${{ github.token }}) with pull-requests: write.',
    );
  const context = await readGithubContext(opts.env);
  if (!context.repository)
    throw new ConfigurationError(
      'GITHUB_REPOSITORY is not set.',
      'Run this in a GitHub Actions workflow, or set GITHUB_REPOSITORY=owner/repo.',
    );
  const report = await readGateReport(opts.report);
  const client = opts.client ?? githubClient(opts.token, context.apiUrl);
  const head = workflowRunHead(context.event);
  let pr = opts.pr;
  if (pr === undefined) {
    if (!head) {
      throw new ConfigurationError(
        `no pull request number: this is a ${context.eventName ?? 'run'} without a workflow_run event.`,
        'Run it from an on: workflow_run workflow, or pass --pr.',
      );
    }
    if (head.event !== undefined && head.event !== 'pull_request' && head.event !== 'pull_request_target') {
      throw new ConfigurationError(
        `the workflow run was triggered by ${head.event}, not a pull request.`,
        "Add if: github.event.workflow_run.event == 'pull_request' to the job.",
      );
    }
    pr = await findPullForWorkflowRun(client, context.repository, head);
    if (pr === undefined) {
      throw new ConfigurationError(
        `no open pull request has head ${head.headSha ?? '(unknown)'} from ${head.headRepo ?? '(unknown repository)'}.`,
        'The pull request may be closed or pushed to since; nothing to comment on.',
      );
    }
  }
  if (report.run?.pr !== undefined && report.run.pr !== pr) {
    log.warning(
      `The report names PR #${report.run.pr}; commenting on #${pr}, the PR of the workflow run (the report is not trusted for this).`,
    );
  }
  const workflowPath = head?.workflowPath;
  const workflow = opts.workflow ?? (workflowPath ? path.posix.basename(workflowPath) : undefined) ?? 'workflow';
  const markdown = renderGateMarkdown(report);
  try {
    const r = await upsertComment(client, { ...context.repository, issueNumber: pr }, commentMarker(report.name, workflow), markdown);
    log.info(`PR #${pr} comment ${r.action}: ${r.url}`);
    return { ...r, pr };
  } catch (err) {
    if (isReadOnlyTokenError(err)) {
      throw new ConfigurationError(
        `the token cannot comment on pull request #${pr} (Resource not accessible by integration).`,
        "Give the job 'permissions: pull-requests: write'.",
        { cause: err },
      );
    }
    throw err;
  }
}
