/** The report domain's public surface: other domains import it only through this file. */
export { renderGateMarkdown } from './gate-markdown.ts';
export { REPORT_FILE, REPORT_MARKDOWN_FILE, REPORT_SCHEMA_VERSION, jsonNumber, readGateReport, type GateReport } from './gate-report.ts';
export { code, escapeMarkdown, table } from './markdown.ts';
export { modelCard, trainingSummary } from './training.ts';
export { renderDatasetSummary } from './dataset.ts';
export { registerSummary } from './register.ts';
export { monitorSummary, monitorText } from './monitor.ts';
export { rolloutSummary } from './rollout.ts';
