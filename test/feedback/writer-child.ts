/**
 * A process that appends feedback records to a store as fast as it can and prints `ack <n>` on
 * stdout after each append resolves, until it is killed: the subject of the SIGKILL test.
 *
 *   node writer-child.ts <store dir> <bytes per record> <records per append> <fsync: 1|0> <id prefix>
 */
import { FeedbackStore, type FeedbackRecord } from '../../shared/feedback/index.ts';

const [dir, size, per, fsync, prefix] = process.argv.slice(2);
const bytes = Number(size);
const store = new FeedbackStore({ dir, segmentBytes: 8 << 20, maxBytes: 2 ** 40, fsync: fsync !== '0' });
const data = Buffer.alloc(bytes, 7).toString('base64');
let n = 0;
for (;;) {
  const batch: FeedbackRecord[] = [];
  for (let i = 0; i < Number(per); i++) {
    batch.push({
      v: 1,
      id: `${prefix}${n}`,
      index: i,
      model: 'fashion',
      version: '1',
      digest: `sha256:${'a'.repeat(64)}`,
      predicted: 'Shirt',
      label: 'T-shirt/top',
      predictedAt: new Date().toISOString(),
      time: new Date().toISOString(),
      input: { dtype: 'uint8', shape: [bytes], data },
    });
  }
  await store.append(batch);
  process.stdout.write(`ack ${prefix}${n}\n`);
  n++;
}
