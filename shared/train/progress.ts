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

/**
 * The learning rate for an epoch (1-based): cosine decay from the given rate down to a tenth of it
 * over the run. Lower steps late in training settle the weights; depends only on the epoch and the
 * run length, so a resumed run follows the same schedule.
 */
export function scheduledLearningRate(base: number, epoch: number, totalEpochs: number): number {
  if (totalEpochs <= 1) return base;
  const progress = (epoch - 1) / (totalEpochs - 1);
  return base * (0.1 + 0.9 * 0.5 * (1 + Math.cos(Math.PI * progress)));
}
