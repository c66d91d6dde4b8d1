/**
 * The config domain: modelship.yml (its schema derived from the steps' input declarations) and the
 * typed input declarations themselves, shared by the Actions runner, the CLI and the file.
 */
export { DEFAULT_CONFIG_FILE, MAX_YAML_ALIASES, configInputs, loadConfig, parseConfig } from './load.ts';
export { NAME_HINT, NAME_MAX, assertModelName, describeChar, nameError, nameProblem, printable } from './names.ts';
export { EMPTY_CONFIG, projectSchema, rawValue, sectionSchema, type ProjectConfig, type SectionDecl, type SectionValue } from './schema.ts';
export {
  camelCase,
  defaultOf,
  formatDuration,
  input,
  isExpression,
  parseDuration,
  parseInputs,
  parseSize,
  splitLines,
  type InputDecl,
  type InputDecls,
  type InputKind,
  type ParsedInputs,
} from './inputs.ts';
export { lineOf, type Lines } from '../util/index.ts';
