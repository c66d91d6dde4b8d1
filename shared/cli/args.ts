/**
 * Command-line options, one parser for every command. Step options carry the action input names:
 * `--name value`, `--name=value`; a repeated option adds a line (for list inputs); a boolean
 * option alone means true and `--no-<name>` false.
 */
import { ConfigurationError } from '../util/index.ts';
import { closest, distance } from 'fastest-levenshtein';
import { defaultOf, type InputDecls } from '../config/index.ts';

/** The known word nearest to a mistyped one, when it is near enough to be what was meant. */
export function suggest(word: string, known: readonly string[]): string | undefined {
  if (known.length === 0) return undefined;
  const best = closest(word, [...known]);
  const d = distance(word, best);
  return d <= Math.max(2, Math.floor(best.length / 3)) || (word.length >= 3 && (best.startsWith(word) || word.startsWith(best)))
    ? best
    : undefined;
}

export interface OptionSpec {
  /** Options that take a value. */
  readonly valued: readonly string[];
  /** Options that are true or false: alone, `--no-x`, or with an explicit true/false. */
  readonly booleans?: readonly string[];
  /** Whether bare words are allowed (subcommands and their arguments). */
  readonly positionals?: boolean;
}

export interface ParsedOptions {
  readonly values: Record<string, string>;
  readonly positionals: string[];
  readonly help: boolean;
}

export function parseOptions(argv: readonly string[], spec: OptionSpec, command: string): ParsedOptions {
  const values: Record<string, string> = {};
  const positionals: string[] = [];
  const booleans = new Set(spec.booleans ?? []);
  const known = new Set([...spec.valued, ...booleans]);
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
      if (spec.positionals) {
        positionals.push(arg);
        continue;
      }
      throw new ConfigurationError(
        `${command}: unexpected argument '${arg}'.`,
        `Options take the form --name value; see 'modelship ${command} --help'.`,
      );
    }
    let name = arg.slice(2);
    let value: string | undefined;
    const eq = name.indexOf('=');
    if (eq >= 0) {
      value = name.slice(eq + 1);
      name = name.slice(0, eq);
    }
    if (value === undefined && name.startsWith('no-') && booleans.has(name.slice(3))) {
      name = name.slice(3);
      value = 'false';
    }
    if (!known.has(name)) {
      const near = suggest(name, [...known]);
      throw new ConfigurationError(
        `${command}: unknown option --${name}.${near ? ` Did you mean --${near}?` : ''}`,
        `Known options: ${[...known].map((k) => `--${k}`).join(', ')} (see 'modelship ${command} --help').`,
      );
    }
    if (value === undefined) {
      const next = argv[i + 1];
      if (booleans.has(name) && (next === undefined || !/^(true|false)$/i.test(next))) value = 'true';
      else if (next === undefined || next.startsWith('--'))
        throw new ConfigurationError(`${command}: option --${name} needs a value.`, `Write --${name} <value>.`);
      else {
        value = next;
        i++;
      }
    }
    values[name] = values[name] !== undefined ? `${values[name]}\n${value}` : value;
  }
  return { values, positionals, help };
}

function isBooleanInput(d: InputDecls[string]): boolean {
  return d.default === 'true' || d.default === 'false' || d.fallback === 'true' || d.fallback === 'false';
}

/** A step's options: its declared inputs (plus `extra` valued options, e.g. the pipeline's own). */
export function parseStepArgs(
  argv: readonly string[],
  decls: InputDecls,
  command: string,
  extra: readonly string[] = [],
  extraBooleans: readonly string[] = [],
): ParsedOptions {
  const names = Object.keys(decls);
  return parseOptions(
    argv,
    {
      valued: [...names.filter((n) => !isBooleanInput(decls[n])), ...extra],
      booleans: [...names.filter((n) => isBooleanInput(decls[n])), ...extraBooleans],
    },
    command,
  );
}

export function stepHelp(command: string, description: string, decls: InputDecls, outputs: Readonly<Record<string, string>>): string {
  const lines = [`modelship ${command}: ${description}`];
  const option = (name: string): string[] => {
    const d = decls[name];
    const dflt = defaultOf(d);
    const tags = [
      d.kind !== 'string' && d.kind !== 'choice' ? d.kind : '',
      dflt !== undefined ? `default ${dflt}` : '',
      d.choices ? d.choices.join('|') : '',
      d.env ? `or $${d.env}` : '',
    ].filter(Boolean);
    return [`  --${name}${tags.length ? `  (${tags.join('; ')})` : ''}`, `      ${d.description}`];
  };
  const names = Object.keys(decls);
  const required = names.filter((n) => decls[n].required);
  const optional = names.filter((n) => !decls[n].required);
  if (required.length > 0) lines.push('', 'Required:', ...required.flatMap(option));
  if (optional.length > 0) lines.push('', `Options (the same names as the action inputs):`, ...optional.flatMap(option));
  lines.push('', 'Prints its outputs as name=value lines:');
  for (const [name, text] of Object.entries(outputs)) lines.push(`  ${name}: ${text}`);
  return lines.join('\n');
}
