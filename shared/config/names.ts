/**
 * The one grammar of model names, checked wherever a name enters: the `name` inputs of the steps
 * (an input kind), modelship.yml's `name:`, registry references and the name a model folder
 * records. A model name is a registry repository path component, so it follows the OCI
 * distribution grammar:
 *
 *   name := [a-z0-9]+ ( [._-] [a-z0-9]+ )*   (at most 128 characters)
 */
import { ConfigurationError } from '../util/index.ts';

export const NAME_MAX = 128;
const COMPONENT_RE = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;

/** The fix for any refused name. */
export const NAME_HINT = "Use lower-case letters, digits and single '.', '_' or '-' between them, e.g. fashion or fashion-mnist.";

/** A character as people read it in an error: 'a space', the control character U+0007, 'x'. */
export function describeChar(ch: string): string {
  if (ch === ' ') return 'a space';
  if (ch === '\t') return 'a tab';
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x20 || cp === 0x7f) return `the control character U+${cp.toString(16).padStart(4, '0').toUpperCase()}`;
  return `'${ch}'`;
}

/** Text safe to print in one line of an error: control characters escaped, at most 200 characters. */
export function printable(s: string): string {
  // eslint-disable-next-line no-control-regex
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`).slice(0, 200);
}

/** Why a string is not a valid model name, or undefined when it is one. */
export function nameProblem(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name.length > NAME_MAX) return `it is ${name.length} characters long; registries accept at most ${NAME_MAX}`;
  for (const ch of name) {
    if (ch === '/')
      return `'/' is refused: a model name is one path component (put the namespace in the registry location, e.g. oci://ghcr.io/acme/models)`;
    if (/[A-Z]/.test(ch)) return `'${ch}' is refused: OCI registries accept only lower-case names (use '${name.toLowerCase()}')`;
    if (!/[a-z0-9._-]/.test(ch))
      return `${describeChar(ch)} is refused: OCI repository names allow only a-z, 0-9 and the separators '.', '_', '-'`;
  }
  if (!/^[a-z0-9]/.test(name)) return `'${name[0]}' is refused at the start: a name starts with a letter or digit`;
  if (!/[a-z0-9]$/.test(name)) return `'${name[name.length - 1]}' is refused at the end: a name ends with a letter or digit`;
  const sep = /[._-]{2,}/.exec(name);
  if (sep) return `'${sep[0]}' is refused: separators ('.', '_', '-') cannot follow each other`;
  if (!COMPONENT_RE.test(name)) return 'it does not follow the OCI repository name grammar';
  return undefined;
}

/** `<where>: '<name>' is not a valid model name: <why>.` — the one message for a refused name. */
export function nameError(name: string, where: string, problem: string): ConfigurationError {
  return new ConfigurationError(`${where}: '${printable(name)}' is not a valid model name: ${problem}.`, NAME_HINT);
}

/** Returns the name, or throws the ConfigurationError that names the refused character. */
export function assertModelName(name: string, where = 'model name'): string {
  const problem = nameProblem(name);
  if (problem) throw nameError(name, where, problem);
  return name;
}
