/** The config domain's public surface: other domains import it only through this file. */
export { configInputs, loadConfig } from './load.ts';
export { type ConfigSection, type ProjectConfig } from './schema.ts';
