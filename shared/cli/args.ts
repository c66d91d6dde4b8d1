/**
 * Command-line options for a step: the same names as the action inputs.
 * `--name value`, `--name=value`; a repeated option adds a line (for list inputs);
 * `--flag` alone means true and `--no-flag` false, for boolean inputs.
 */
import { ConfigurationError } from '../util/errors.ts';
import type { InputDecls } from '../steps/inputs.ts';

export interface ParsedArgs {
  readonly values: Record<string, string>;
  readonly help: boolean;
}

export function parseStepArgs(argv: readonly string[], decls: InputDecls, command: string, extra: readonly string[] = []): ParsedArgs {
  const values: Record<string, string> = {};
  const known = new Set([...Object.keys(decls), ...extra]);
  const isBool = (name: string): boolean => {
    const d = decls[name];
    return d !== undefined && (d.default === 'true' || d.default === 'false' || d.fallback === 'true' || d.fallback === 'false');
  };
  let help = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      help = true;
      continue;
    }
    if (!arg.startsWith('--')) {
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
    if (value === undefined && name.startsWith('no-') && isBool(name.slice(3))) {
      name = name.slice(3);
      value = 'false';
    }
    if (!known.has(name)) {
      throw new ConfigurationError(
        `${command}: unknown option --${name}.`,
        `Known options: ${[...known].map((k) => `--${k}`).join(', ')}.`,
      );
    }
    if (value === undefined) {
      const next = argv[i + 1];
      if (isBool(name) && (next === undefined || next.startsWith('--'))) value = 'true';
      else if (next === undefined) throw new ConfigurationError(`${command}: option --${name} needs a value.`, `Write --${name} <value>.`);
      else {
        value = next;
        i++;
      }
    }
    values[name] = values[name] !== undefined ? `${values[name]}\n${value}` : value;
  }
  return { values, help };
}

export function stepHelp(command: string, description: string, decls: InputDecls, outputs: Readonly<Record<string, string>>): string {
  const lines = [`modelship ${command}: ${description}`, '', 'Options (the same names as the action inputs):'];
  for (const [name, d] of Object.entries(decls)) {
    const dflt = d.fallback ?? (d.default && !d.default.includes('${{') ? d.default : undefined);
    const tags = [d.required ? 'required' : '', dflt !== undefined ? `default ${dflt}` : '', d.choices ? d.choices.join('|') : ''].filter(
      Boolean,
    );
    lines.push(`  --${name}${tags.length ? `  (${tags.join('; ')})` : ''}`, `      ${d.description}`);
  }
  lines.push('', 'Prints its outputs as name=value lines:');
  for (const [name, text] of Object.entries(outputs)) lines.push(`  ${name}: ${text}`);
  return lines.join('\n');
}
