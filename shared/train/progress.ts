/** The lines a person follows in the training log (pure, tested on their text). */
import type { EpochRecord } from '../model/index.ts';

/** 138 → "2m18s", 4 → "4s", 3725 → "1h02m". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function num(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : v.toFixed(3);
}

export function headerLine(o: { architecture: string; backend: string; reason: string; trainCount: number; valCount: number }): string {
  const reason = o.reason.split(' (')[0];
  return `modelship train · ${o.architecture} · backend ${o.backend} (${reason}) · ${o.trainCount.toLocaleString('en-US')} train / ${o.valCount.toLocaleString('en-US')} val`;
}

/** `epoch 1/5  loss 0.512  acc 0.815  val_loss 0.391  val_acc 0.861  1,712 samples/s  ETA 2m18s` */
export function epochLine(r: EpochRecord, totalEpochs: number, etaSeconds: number | undefined): string {
  const parts = [`epoch ${r.epoch}/${totalEpochs}`, `loss ${num(r.loss)}`];
  if (r.acc !== undefined) parts.push(`acc ${num(r.acc)}`);
  if (r.valLoss !== undefined) parts.push(`val_loss ${num(r.valLoss)}`);
  if (r.valAcc !== undefined) parts.push(`val_acc ${num(r.valAcc)}`);
  parts.push(`${Math.round(r.samplesPerSecond).toLocaleString('en-US')} samples/s`);
  if (etaSeconds !== undefined && r.epoch < totalEpochs) parts.push(`ETA ${formatDuration(etaSeconds)}`);
  return parts.join('  ');
}

/**
 * `  epoch 2/15 · 23,040/54,000  loss 0.402  acc 0.858  3,210 samples/s  ETA 4m12s`: within an epoch,
 * indented under the epoch lines (which start at the margin), the running loss and accuracy.
 */
export function progressLine(p: {
  epoch: number;
  epochs: number;
  done: number;
  total: number;
  loss: number;
  acc?: number;
  samplesPerSecond: number;
  etaSeconds: number;
}): string {
  const parts = [
    `  epoch ${p.epoch}/${p.epochs} · ${p.done.toLocaleString('en-US')}/${p.total.toLocaleString('en-US')}`,
    `loss ${num(p.loss)}`,
  ];
  if (p.acc !== undefined) parts.push(`acc ${num(p.acc)}`);
  parts.push(`${Math.round(p.samplesPerSecond).toLocaleString('en-US')} samples/s`, `ETA ${formatDuration(p.etaSeconds)}`);
  return parts.join('  ');
}

/** `recipe: Adam 0.002, 5% warm-up then cosine decay · label smoothing 0.1 · augmentation shifts ±2px · 2 threads (data-parallel)` */
export function recipeLine(r: {
  learningRate: number;
  warmupSteps: number;
  totalSteps: number;
  labelSmoothing: number;
  augmentation: string;
  replicas: number;
}): string {
  const warmup = r.warmupSteps > 0 ? `${r.warmupSteps.toLocaleString('en-US')}-step warm-up then cosine decay` : 'cosine decay';
  const parts = [`recipe: Adam ${r.learningRate}, ${warmup} over ${r.totalSteps.toLocaleString('en-US')} steps`];
  if (r.labelSmoothing > 0) parts.push(`label smoothing ${r.labelSmoothing}`);
  parts.push(`augmentation ${r.augmentation}`);
  parts.push(r.replicas > 1 ? `${r.replicas} threads (data-parallel)` : '1 thread');
  return parts.join(' · ');
}

/**
 * The early-stopping decision after an epoch: whether the validation loss improved on the best so
 * far, and whether to stop (patience epochs in a row without improvement; patience 0 never stops).
 */
export function earlyStopping(
  best: { epoch: number; valLoss: number } | undefined,
  epochsSinceBest: number,
  epoch: number,
  valLoss: number | undefined,
  patience: number,
): { improved: boolean; best: { epoch: number; valLoss: number } | undefined; epochsSinceBest: number; stop: boolean } {
  if (valLoss === undefined || !Number.isFinite(valLoss)) {
    const since = best ? epochsSinceBest + 1 : epochsSinceBest;
    return { improved: false, best, epochsSinceBest: since, stop: patience > 0 && best !== undefined && since >= patience };
  }
  if (!best || valLoss < best.valLoss) return { improved: true, best: { epoch, valLoss }, epochsSinceBest: 0, stop: false };
  const since = epochsSinceBest + 1;
  return { improved: false, best, epochsSinceBest: since, stop: patience > 0 && since >= patience };
}
