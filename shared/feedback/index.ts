/**
 * The feedback domain: ground truth from production. The model server appends a record per
 * labelled prediction to a store (an append-only folder of JSON Lines segments, rotated and capped,
 * never a database); `exportFeedback` turns the store into a data set folder setup-data reads (an
 * image folder or a CSV, with provenance.jsonl saying where each example came from).
 *
 *   const store = new FeedbackStore({ dir: '.modelship/feedback' });
 *   await store.append([record]);          // synced before it resolves
 *   const { records, torn } = await readStore('.modelship/feedback');
 *   await exportFeedback({ store: '.modelship/feedback', out: 'feedback-data', model: 'fashion' });
 */
import type * as Export from './export.ts';

export {
  FEEDBACK_RECORD_VERSION,
  decodeInput,
  encodeInput,
  perExample,
  recordLine,
  recordProblem,
  type FeedbackInput,
  type FeedbackRecord,
  type InputDtype,
} from './record.ts';
export {
  DEFAULT_MAX_BYTES,
  DEFAULT_SEGMENT_BYTES,
  FeedbackStore,
  SEGMENT_RE,
  latestPerPrediction,
  listSegments,
  predictionKey,
  readStore,
  type AppendResult,
  type ReadProblem,
  type RecordLocation,
  type SegmentInfo,
  type StoreContents,
  type StoredRecord,
  type StoreOptions,
  type StoreStats,
} from './store.ts';
export type { ExportFormat, ExportOptions, ExportResult } from './export.ts';

/** Writes the store as a data set folder (loads sharp on first use; see export.ts). */
export async function exportFeedback(...a: Parameters<typeof Export.exportFeedback>): ReturnType<typeof Export.exportFeedback> {
  return (await import('./export.ts')).exportFeedback(...a);
}
