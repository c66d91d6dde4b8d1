/**
 * IDX files, the MNIST / Fashion-MNIST format: big-endian, magic 0x00000803 for images
 * (n × rows × cols, unsigned bytes) and 0x00000801 for labels, gzipped or not.
 *
 * `<prefix>-images-idx3-ubyte[.gz]` pairs with `<prefix>-labels-idx1-ubyte[.gz]` (a `.` in place
 * of the `-` before idx is accepted too, as some MNIST mirrors name them). Prefixes `train` and
 * `t10k`/`test` are a given train/test split.
 *
 * Class names: a `classes.txt` beside the files (one name per line, in label order) wins; else
 * the data is recognised as Fashion-MNIST when its train or test label payload has the known
 * sha256 (so the full data set is named without any extra file); else labels are named "0".."9".
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import { ConfigurationError } from '../../util/index.ts';
import type { FileRecord } from '../manifest.ts';
import { GIVEN_TEST, GIVEN_TRAIN, type Reader, type ReaderOptions, type ReadResult, type SourceFile, type SourceTree } from '../types.ts';

const gunzipAsync = promisify(gunzip);

export const IDX_IMAGES = /^(.*?)[-.]images[-.]idx3[-.]ubyte(\.gz)?$/i;
export const IDX_LABELS = /^(.*?)[-.]labels[-.]idx1[-.]ubyte(\.gz)?$/i;

export const FASHION_MNIST_CLASSES = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
] as const;

/** sha256 of the label payload (after the 8-byte header) of Fashion-MNIST's train and t10k files. */
export const FASHION_MNIST_LABEL_DIGESTS: ReadonlySet<string> = new Set([
  '657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7',
  '3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9',
]);

export function isIdxFile(rel: string): boolean {
  const base = path.posix.basename(rel);
  return IDX_IMAGES.test(base) || IDX_LABELS.test(base);
}

function corrupt(file: SourceFile, what: string): ConfigurationError {
  return new ConfigurationError(
    `IDX file '${file.rel}' ${what}.`,
    'The file is truncated or corrupt: download it again (and set checksum to catch this earlier).',
  );
}

async function readMaybeGzip(file: SourceFile): Promise<Buffer> {
  const raw = await readFile(file.abs);
  if (raw.length >= 2 && raw[0] === 0x1f && raw[1] === 0x8b) {
    try {
      return await gunzipAsync(raw);
    } catch (err) {
      throw corrupt(file, `is not a valid gzip stream (${(err as Error).message})`);
    }
  }
  return raw;
}

interface IdxImages {
  readonly n: number;
  readonly rows: number;
  readonly cols: number;
  readonly data: Uint8Array;
}

export function parseIdxImages(file: SourceFile, buf: Buffer): IdxImages {
  if (buf.length < 16) throw corrupt(file, `is ${buf.length} bytes, too short for an IDX image header`);
  const magic = buf.readUInt32BE(0);
  if (magic !== 0x803) throw corrupt(file, `has magic 0x${magic.toString(16)}, not 0x803 (unsigned-byte images, 3 dimensions)`);
  const n = buf.readUInt32BE(4);
  const rows = buf.readUInt32BE(8);
  const cols = buf.readUInt32BE(12);
  const expected = 16 + n * rows * cols;
  if (buf.length !== expected)
    throw corrupt(file, `holds ${buf.length - 16} bytes of pixels, but its header says ${n} × ${rows} × ${cols} = ${expected - 16}`);
  return { n, rows, cols, data: buf.subarray(16) };
}

export function parseIdxLabels(file: SourceFile, buf: Buffer): Uint8Array {
  if (buf.length < 8) throw corrupt(file, `is ${buf.length} bytes, too short for an IDX label header`);
  const magic = buf.readUInt32BE(0);
  if (magic !== 0x801) throw corrupt(file, `has magic 0x${magic.toString(16)}, not 0x801 (unsigned-byte labels, 1 dimension)`);
  const n = buf.readUInt32BE(4);
  if (buf.length !== 8 + n) throw corrupt(file, `holds ${buf.length - 8} labels, but its header says ${n}`);
  return buf.subarray(8);
}

function givenOf(prefix: string): number | undefined {
  const p = path.posix.basename(prefix).toLowerCase();
  if (p === 'train') return GIVEN_TRAIN;
  if (p === 't10k' || p === 'test') return GIVEN_TEST;
  return undefined;
}

export async function readIdx(tree: SourceTree, opts: ReaderOptions): Promise<ReadResult> {
  const images = new Map<string, SourceFile>();
  const labels = new Map<string, SourceFile>();
  for (const f of tree.files) {
    const dir = path.posix.dirname(f.rel);
    const base = path.posix.basename(f.rel);
    const mi = IDX_IMAGES.exec(base);
    const ml = IDX_LABELS.exec(base);
    if (mi) images.set(`${dir}/${mi[1]}`, f);
    else if (ml) labels.set(`${dir}/${ml[1]}`, f);
  }
  const prefixes = [...new Set([...images.keys(), ...labels.keys()])].sort();
  if (prefixes.length === 0) {
    throw new ConfigurationError(
      `source '${tree.label}' has no IDX files (<name>-images-idx3-ubyte[.gz] with <name>-labels-idx1-ubyte[.gz]).`,
      'Point source at the folder that holds the IDX files, or set format to the right one.',
    );
  }
  for (const p of prefixes) {
    if (!images.has(p))
      throw new ConfigurationError(
        `source '${tree.label}' has ${labels.get(p)!.rel} but no matching images file.`,
        `Add ${p.replace(/^\.\//, '')}-images-idx3-ubyte.gz beside it.`,
      );
    if (!labels.has(p))
      throw new ConfigurationError(
        `source '${tree.label}' has ${images.get(p)!.rel} but no matching labels file.`,
        `Add ${p.replace(/^\.\//, '')}-labels-idx1-ubyte.gz beside it.`,
      );
  }
  const givens = prefixes.map(givenOf);
  const hasGiven = givens.every((g) => g !== undefined) && givens.includes(GIVEN_TRAIN);
  const parts = await Promise.all(
    prefixes.map(async (p) => {
      const imgFile = images.get(p)!;
      const lblFile = labels.get(p)!;
      const [img, lbl] = await Promise.all([readMaybeGzip(imgFile), readMaybeGzip(lblFile)]);
      const parsed = parseIdxImages(imgFile, img);
      const lab = parseIdxLabels(lblFile, lbl);
      if (lab.length !== parsed.n) {
        throw new ConfigurationError(
          `IDX files '${imgFile.rel}' and '${lblFile.rel}' disagree: ${parsed.n} images but ${lab.length} labels.`,
          'Use the labels file that belongs to these images.',
        );
      }
      const labelDigest = createHash('sha256').update(lab).digest('hex');
      return { imgFile, lblFile, ...parsed, labels: lab, labelDigest };
    }),
  );
  const first = parts[0];
  for (const p of parts) {
    if (p.rows !== first.rows || p.cols !== first.cols) {
      throw new ConfigurationError(
        `IDX files differ in image size: '${first.imgFile.rel}' is ${first.cols}x${first.rows} but '${p.imgFile.rel}' is ${p.cols}x${p.rows}.`,
        'Use IDX files of one data set together.',
      );
    }
  }
  const count = parts.reduce((a, p) => a + p.n, 0);
  const exampleSize = first.rows * first.cols;
  const x = new Uint8Array(count * exampleSize);
  const y = new Int32Array(count);
  const given = hasGiven ? new Uint8Array(count) : undefined;
  let maxLabel = 0;
  let at = 0;
  parts.forEach((p, k) => {
    x.set(p.data, at * exampleSize);
    for (let i = 0; i < p.n; i++) {
      const l = p.labels[i];
      y[at + i] = l;
      if (l > maxLabel) maxLabel = l;
    }
    if (given) given.fill(givens[k]!, at, at + p.n);
    at += p.n;
  });

  const files: FileRecord[] = parts.flatMap((p) => [
    { path: p.imgFile.rel, sha256: p.imgFile.sha256, size: p.imgFile.size },
    { path: p.lblFile.rel, sha256: p.lblFile.sha256, size: p.lblFile.size },
  ]);
  const classesFile = findClassesFile(tree, first.imgFile.rel);
  let classes: string[];
  if (classesFile) {
    classes = (await readFile(classesFile.abs, 'utf8'))
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l !== '');
    if (classes.length <= maxLabel) {
      throw new ConfigurationError(
        `'${classesFile.rel}' names ${classes.length} classes but the labels go up to ${maxLabel}.`,
        `List one class name per line, ${maxLabel + 1} lines, in label order.`,
      );
    }
    if (new Set(classes).size !== classes.length) {
      throw new ConfigurationError(`'${classesFile.rel}' names a class twice.`, 'Give every class a distinct name.');
    }
    files.push({ path: classesFile.rel, sha256: classesFile.sha256, size: classesFile.size });
  } else if (maxLabel < 10 && parts.some((p) => FASHION_MNIST_LABEL_DIGESTS.has(p.labelDigest))) {
    classes = [...FASHION_MNIST_CLASSES];
    opts.log.info('Recognised Fashion-MNIST by its label digest: using its class names.');
  } else {
    classes = Array.from({ length: Math.max(10, maxLabel + 1) }, (_, i) => String(i));
  }
  return {
    format: 'idx',
    task: 'classification',
    classes,
    inputShape: [first.rows, first.cols, 1],
    count,
    x,
    y,
    ...(given ? { given } : {}),
    files,
  };
}

function findClassesFile(tree: SourceTree, besides: string): SourceFile | undefined {
  const dir = path.posix.dirname(besides);
  const want = dir === '.' ? 'classes.txt' : `${dir}/classes.txt`;
  return tree.files.find((f) => f.rel === want) ?? tree.files.find((f) => f.rel === 'classes.txt');
}

export const idxReader: Reader = { format: 'idx', detect: (tree) => tree.files.some((f) => isIdxFile(f.rel)), read: readIdx };
