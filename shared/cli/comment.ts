/**
 * `modelship comment`: phase two of the fork-safe PR comment, from the command line of a
 * `workflow_run` workflow. The work is postReportComment in the github domain.
 */
import path from 'node:path';
import { postReportComment } from '../github/index.ts';
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
