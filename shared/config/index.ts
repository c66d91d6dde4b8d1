/**
 * The config domain: modelship.yml (its schema derived from the steps' input declarations) and the
 * typed input declarations themselves, shared by the Actions runner, the CLI and the file.
 */
export { DEFAULT_CONFIG_FILE, MAX_YAML_ALIASES, configInputs, loadConfig, parseConfig } from './load.ts';
export {
  EMPTY_CONFIG,
  MODEL_NAME,
  projectSchema,
  rawValue,
  sectionSchema,
  type ProjectConfig,
  type SectionDecl,
  type SectionValue,
} from './schema.ts';
export {
  camelCase,
  defaultOf,
  formatDuration,
  input,
  isExpression,
  parseDuration,
  parseInputs,
  splitLines,
  type InputDecl,
  type InputDecls,
  type InputKind,
  type ParsedInputs,
} from './inputs.ts';
