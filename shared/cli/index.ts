/** The command-line door: `modelship <command>` (bin/modelship.js runs `main`). */
export { main, usage, type CliIo } from './main.ts';
