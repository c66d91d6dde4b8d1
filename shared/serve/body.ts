/**
 * Request bodies from untrusted clients: bounded before they are read, bounded again after
 * decompression, and checked for nesting depth before JSON.parse sees them.
 *
 * - A Content-Length over the limit is refused (413) before a byte of the body is read.
 * - Bodies without a length (chunked) are counted as they arrive and refused at the limit.
 * - `Content-Encoding: gzip` / `deflate` bodies are decompressed as a stream and refused as soon as
 *   the decompressed bytes pass the same limit, so a small bomb that expands to gigabytes costs at
 *   most `maxBytes` of memory.
 * - Nesting depth is counted by a linear scan over the bytes (strings skipped) before parsing, so
 *   `[[[[…]]]]` 100,000 levels deep is a 400 in microseconds and no recursive code ever walks it.
 * - After an error answer, the rest of a body is read and dropped up to a cap, then the connection
 *   is closed: the client gets its 413 instead of a reset, and the server never reads gigabytes.
 */
import type { IncomingMessage } from 'node:http';
import zlib from 'node:zlib';
import { HttpError, badRequest, preview } from './http-error.ts';

/** Bytes of an unread body the server drops (to let the client read its error) before it closes the connection. */
export const DISCARD_CAP_BYTES = 64 * 1024 * 1024;
const DISCARD_TIMEOUT_MS = 5_000;

function tooLarge(maxBytes: number, what: string): HttpError {
  return new HttpError(413, `Request body is larger than the server's limit of ${maxBytes} bytes${what}.`);
}

/**
 * Reads a request body into memory, at most `maxBytes` on the wire and after decompression.
 * Throws an HttpError (413, 415, 400); the body may then be partly unread (see {@link discardBody}).
 */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  const encoding = (req.headers['content-encoding'] ?? 'identity').trim().toLowerCase();
  let decoder: zlib.Gunzip | zlib.Inflate | undefined;
  if (encoding === 'gzip' || encoding === 'x-gzip') decoder = zlib.createGunzip();
  else if (encoding === 'deflate') decoder = zlib.createInflate();
  else if (encoding !== 'identity' && encoding !== '') {
    return Promise.reject(
      new HttpError(415, `Content-Encoding '${encoding.slice(0, 40)}' is not supported; send the body plain (identity), gzip or deflate.`),
    );
  }
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > maxBytes) return Promise.reject(tooLarge(maxBytes, ''));

  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let wire = 0;
    let size = 0;
    let settled = false;
    const finish = (err?: Error): void => {
      if (settled) return;
      settled = true;
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
      if (decoder) {
        decoder.off('data', onDecoded);
        decoder.destroy();
      }
      if (err) reject(err);
      else resolve(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, size));
    };
    const onDecoded = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        finish(tooLarge(maxBytes, ' after decompression'));
        return;
      }
      chunks.push(chunk);
    };
    const onData = (chunk: Buffer): void => {
      wire += chunk.length;
      if (wire > maxBytes) {
        finish(tooLarge(maxBytes, ''));
        return;
      }
      if (!decoder) {
        onDecoded(chunk);
        return;
      }
      if (!decoder.write(chunk)) {
        req.pause();
        decoder.once('drain', () => req.resume());
      }
    };
    const onEnd = (): void => {
      if (decoder) decoder.end();
      else finish();
    };
    const onError = (): void => finish(badRequest('The request body was not received completely.'));
    const onAborted = onError;
    if (decoder) {
      decoder.on('data', onDecoded);
      decoder.once('end', () => finish());
      decoder.once('error', (err) => finish(badRequest(`The ${encoding} request body cannot be decompressed (${err.message}).`)));
    }
    req.on('data', onData);
    req.once('end', onEnd);
    req.once('error', onError);
    req.once('aborted', onAborted);
  });
}

/**
 * Drops what is left of a request body after an error answer, up to a cap and a time limit,
 * then closes the connection; called when the body was not read to its end.
 */
export function discardBody(req: IncomingMessage): void {
  if (req.complete || req.destroyed) return;
  let dropped = 0;
  const timer = setTimeout(() => req.socket.destroy(), DISCARD_TIMEOUT_MS);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    dropped += chunk.length;
    if (dropped > DISCARD_CAP_BYTES) req.socket.destroy();
  });
  req.once('end', () => clearTimeout(timer));
  req.once('close', () => clearTimeout(timer));
  req.resume();
}

/**
 * Throws a 400 when the JSON text nests arrays/objects deeper than `maxDepth`. A linear scan over
 * the bytes that skips strings (and their escapes); it does not validate the JSON otherwise.
 */
export function checkJsonDepth(bytes: Uint8Array, maxDepth: number): void {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i];
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
    } else if (c === 0x22) {
      inString = true;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > maxDepth) {
        throw badRequest(
          `JSON Parse error: the document nests arrays or objects more than ${maxDepth} levels deep (at offset ${i}); this server accepts at most ${maxDepth}.`,
        );
      }
    } else if (c === 0x5d || c === 0x7d) {
      depth--;
    }
  }
}

/** Parses a JSON request body that must be an object, with TF Serving's error wording. */
export function parseJsonObject(bytes: Buffer, maxDepth: number): Record<string, unknown> {
  if (bytes.length === 0) throw badRequest('JSON Parse error: The document is empty');
  checkJsonDepth(bytes, maxDepth);
  let doc: unknown;
  try {
    doc = JSON.parse(bytes.toString('utf8'));
  } catch (err) {
    throw badRequest(`JSON Parse error: ${(err as Error).message}`);
  }
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw badRequest(`JSON Value: ${preview(doc)} Is not object`);
  return doc as Record<string, unknown>;
}
