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
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { ConfigurationError, formatBytes, openRegularFile } from '../../util/index.ts';
import { checkMemoryBudget, DEFAULT_DATA_LIMITS } from '../limits.ts';
import type { FileRecord } from '../manifest.ts';
import { GIVEN_TEST, GIVEN_TRAIN, type Reader, type ReaderOptions, type ReadResult, type SourceFile, type SourceTree } from '../types.ts';

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

/**
 * The file's content stream, gunzipped when it starts with the gzip magic. The file is opened
 * without following a link (util/fs.ts).
 */
async function contentStream(file: SourceFile): Promise<{ stream: Readable; close: () => void }> {
  const fh = await openRegularFile(file.abs);
  const magic = Buffer.alloc(2);
  let bytesRead: number;
  try {
    ({ bytesRead } = await fh.read(magic, 0, 2, 0));
  } catch (err) {
    await fh.close();
    throw err;
  }
  const raw = createReadStream('', { fd: fh, start: 0 });
  if (bytesRead === 2 && magic[0] === 0x1f && magic[1] === 0x8b) {
    const gz = createGunzip();
    raw.on('error', (err) => gz.destroy(err));
    return {
      stream: raw.pipe(gz),
      close: () => {
        gz.destroy();
        raw.destroy();
      },
    };
  }
  return { stream: raw, close: () => raw.destroy() };
}

/**
 * Streams the file's content: the first `header` bytes are returned, the next `into.length` go
 * into `into` (when given). The stream is stopped as soon as it holds more than the header says,
 * so a gzip bomb costs no more than the buffer it was budgeted.
 */
async function streamIdx(file: SourceFile, header: number, into?: Uint8Array, short?: (got: number) => string): Promise<Buffer> {
  const head = Buffer.alloc(header);
  let got = 0;
  const want = header + (into?.length ?? 0);
  const { stream, close } = await contentStream(file);
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let c = chunk;
      if (got < header) {
        const take = Math.min(header - got, c.length);
        c.copy(head, got, 0, take);
        got += take;
        c = c.subarray(take);
        if (!into && got === header) break;
      }
      if (c.length === 0) continue;
      if (!into || got + c.length > want) {
        throw corrupt(file, `holds more than its header says (${into ? formatBytes(want - header) : 'nothing'} after the header)`);
      }
      into.set(c, got - header);
      got += c.length;
    }
  } catch (err) {
    if (err instanceof ConfigurationError) throw err;
    throw corrupt(file, `is not a valid gzip stream (${(err as Error).message})`);
  } finally {
    close();
  }
  if (got < header) throw corrupt(file, `is ${got} bytes, too short for an IDX header`);
  if (into && got < want)
    throw corrupt(file, short ? short(got - header) : `holds ${got - header} bytes after its header, but its header says ${want - header}`);
  return head;
}

/** The image header: n × rows × cols unsigned bytes follow. */
function imagesHeader(file: SourceFile, head: Buffer): { n: number; rows: number; cols: number } {
  const magic = head.readUInt32BE(0);
  if (magic !== 0x803) throw corrupt(file, `has magic 0x${magic.toString(16)}, not 0x803 (unsigned-byte images, 3 dimensions)`);
  return { n: head.readUInt32BE(4), rows: head.readUInt32BE(8), cols: head.readUInt32BE(12) };
}

/** The label header: n unsigned bytes follow. */
function labelsHeader(file: SourceFile, head: Buffer): number {
  const magic = head.readUInt32BE(0);
  if (magic !== 0x801) throw corrupt(file, `has magic 0x${magic.toString(16)}, not 0x801 (unsigned-byte labels, 1 dimension)`);
  return head.readUInt32BE(4);
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
  // Headers first: the prepared size is known (and budgeted) before any pixel is decompressed.
  const heads = await Promise.all(
    prefixes.map(async (p) => {
      const imgFile = images.get(p)!;
      const lblFile = labels.get(p)!;
      const img = imagesHeader(imgFile, await streamIdx(imgFile, 16));
      const n = labelsHeader(lblFile, await streamIdx(lblFile, 8));
      if (n !== img.n) {
        throw new ConfigurationError(
          `IDX files '${imgFile.rel}' and '${lblFile.rel}' disagree: ${img.n} images but ${n} labels.`,
          'Use the labels file that belongs to these images.',
        );
      }
      return { imgFile, lblFile, ...img };
    }),
  );
  const first = heads[0];
  for (const p of heads) {
    if (p.rows !== first.rows || p.cols !== first.cols) {
      throw new ConfigurationError(
        `IDX files differ in image size: '${first.imgFile.rel}' is ${first.cols}x${first.rows} but '${p.imgFile.rel}' is ${p.cols}x${p.rows}.`,
        'Use IDX files of one data set together.',
      );
    }
  }
  const count = heads.reduce((a, p) => a + p.n, 0);
  const exampleSize = first.rows * first.cols;
  checkMemoryBudget(
    count * (exampleSize + 4),
    opts.memoryBudget ?? DEFAULT_DATA_LIMITS.memoryBudget,
    `${count.toLocaleString('en-US')} images × ${first.cols}×${first.rows} bytes, and their labels`,
    'Use fewer examples',
  );
  const x = new Uint8Array(count * exampleSize);
  const y = new Int32Array(count);
  const given = hasGiven ? new Uint8Array(count) : undefined;
  let maxLabel = 0;
  let at = 0;
  const parts = [];
  for (const [k, p] of heads.entries()) {
    await streamIdx(
      p.imgFile,
      16,
      x.subarray(at * exampleSize, (at + p.n) * exampleSize),
      (got) => `holds ${got} bytes of pixels, but its header says ${p.n} × ${p.rows} × ${p.cols} = ${p.n * exampleSize}`,
    );
    const lab = new Uint8Array(p.n);
    await streamIdx(p.lblFile, 8, lab, (got) => `holds ${got} labels, but its header says ${p.n}`);
    for (let i = 0; i < p.n; i++) {
      const l = lab[i];
      y[at + i] = l;
      if (l > maxLabel) maxLabel = l;
    }
    if (given) given.fill(givens[k]!, at, at + p.n);
    at += p.n;
    parts.push({ ...p, labelDigest: createHash('sha256').update(lab).digest('hex') });
  }

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
