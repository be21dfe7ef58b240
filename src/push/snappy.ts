/**
 * Snappy compression, block format (https://github.com/google/snappy/blob/main/format_description.txt),
 * as remote write requires (`Content-Encoding: snappy`: the block format, not the framed one). Pure
 * TypeScript, the reference compressor's algorithm: the input in 64 KiB fragments, a hash table of
 * 4-byte sequences per fragment, literals and copies with 1- or 2-byte offsets, and the reference's
 * skipping heuristic (after 32 misses, look further ahead), so incompressible input costs about one
 * pass. The output is at most `32 + n + n / 6` bytes (snappy's `MaxCompressedLength`).
 */

const FRAGMENT = 1 << 16;
const MAX_TABLE_BITS = 14;
/** The fragment's last bytes are always a literal: every 4-byte load stays inside the input. */
const INPUT_MARGIN = 15;

/** Snappy's bound on the compressed size of `n` bytes. */
export const maxCompressedLength = (n: number): number => 32 + n + Math.floor(n / 6);

const load32 = (a: Uint8Array, i: number): number =>
  a[i] | (a[i + 1] << 8) | (a[i + 2] << 16) | (a[i + 3] << 24);

/** Compresses `input` (the whole body: the block format has one length in front). */
export function snappyCompress(input: Uint8Array): Buffer {
  const { out, op, table } = start(input);
  let at = op;
  for (let from = 0; from < input.length; from += FRAGMENT)
    at = compressFragment(input, from, Math.min(FRAGMENT, input.length - from), out, at, table);
  return out.subarray(0, at);
}

/**
 * {@link snappyCompress} of the concatenation of `parts`, without joining them: each part is
 * compressed as its own fragments (the format allows fragments of any size; copies stay inside
 * one), into one scratch buffer of a fragment's bound, each fragment's bytes copied out: no buffer of
 * the body's size is allocated (external memory that large made V8 run a full collection of a big
 * heap in one go). `pause()` is awaited after every fragment (about 0.3 ms of work each). Returns
 * the compressed body as a list of buffers, in order.
 */
export async function snappyCompressParts(
  parts: readonly Uint8Array[],
  pause: () => Promise<void>,
): Promise<Buffer[]> {
  let total = 0;
  for (const part of parts) total += part.length;
  const head: number[] = [];
  let n = total;
  while (n >= 0x80) {
    head.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  head.push(n);
  const out: Buffer[] = [Buffer.from(head)];
  const scratch = Buffer.allocUnsafe(maxCompressedLength(FRAGMENT));
  const table = new Uint16Array(1 << MAX_TABLE_BITS);
  for (const part of parts) {
    for (let from = 0; from < part.length; from += FRAGMENT) {
      const size = compressFragment(part, from, Math.min(FRAGMENT, part.length - from), scratch, 0, table);
      out.push(Buffer.from(scratch.subarray(0, size)));
      await pause();
    }
  }
  return out;
}

/** The output buffer with the uncompressed length in front, and the hash table. */
function start(input: Uint8Array): { out: Buffer; op: number; table: Uint16Array } {
  const out = Buffer.allocUnsafe(maxCompressedLength(input.length));
  let op = 0;
  let n = input.length;
  while (n >= 0x80) {
    out[op++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[op++] = n;
  return { out, op, table: new Uint16Array(1 << MAX_TABLE_BITS) };
}

function compressFragment(
  input: Uint8Array,
  start: number,
  size: number,
  out: Buffer,
  op: number,
  table: Uint16Array,
): number {
  const end = start + size;
  let nextEmit = start;
  if (size >= INPUT_MARGIN) {
    let bits = 8;
    while (bits < MAX_TABLE_BITS && 1 << bits < size) bits++;
    const shift = 32 - bits;
    table.fill(0, 0, 1 << bits);
    const hash = (i: number): number => Math.imul(load32(input, i), 0x1e35a7bd) >>> shift;
    const limit = end - INPUT_MARGIN;
    let ip = start + 1;
    let nextHash = hash(ip);
    outer: for (;;) {
      // Look for a 4-byte match, further apart after every 32 misses.
      let skip = 32;
      let nextIp = ip;
      let candidate: number;
      do {
        ip = nextIp;
        const h = nextHash;
        nextIp = ip + (skip++ >>> 5);
        if (nextIp > limit) break outer;
        nextHash = hash(nextIp);
        candidate = start + table[h];
        table[h] = ip - start;
      } while (load32(input, ip) !== load32(input, candidate));
      op = emitLiteral(input, nextEmit, ip - nextEmit, out, op);
      // Copies, as long as the bytes right after one start another match.
      do {
        const base = ip;
        let matched = 4;
        while (ip + matched < end && input[ip + matched] === input[candidate + matched]) matched++;
        ip += matched;
        op = emitCopy(out, op, base - candidate, matched);
        nextEmit = ip;
        if (ip >= limit) break outer;
        table[hash(ip - 1)] = ip - 1 - start;
        const h = hash(ip);
        candidate = start + table[h];
        table[h] = ip - start;
      } while (load32(input, ip) === load32(input, candidate));
      ip++;
      nextHash = hash(ip);
    }
  }
  if (nextEmit < end) op = emitLiteral(input, nextEmit, end - nextEmit, out, op);
  return op;
}

function emitLiteral(input: Uint8Array, from: number, length: number, out: Buffer, op: number): number {
  const n = length - 1;
  if (n < 60) out[op++] = n << 2;
  else if (n < 0x100) {
    out[op++] = 60 << 2;
    out[op++] = n;
  } else {
    // A fragment is at most 64 KiB: two bytes of length are enough.
    out[op++] = 61 << 2;
    out[op++] = n & 0xff;
    out[op++] = n >>> 8;
  }
  out.set(input.subarray(from, from + length), op);
  return op + length;
}

/** A copy of 4 to 64 bytes at `offset` (below 65536) back. */
function copyUpTo64(out: Buffer, op: number, offset: number, length: number): number {
  if (length < 12 && offset < 2048) {
    out[op++] = 1 | ((length - 4) << 2) | ((offset >>> 8) << 5);
    out[op++] = offset & 0xff;
  } else {
    out[op++] = 2 | ((length - 1) << 2);
    out[op++] = offset & 0xff;
    out[op++] = offset >>> 8;
  }
  return op;
}

function emitCopy(out: Buffer, op: number, offset: number, length: number): number {
  while (length >= 68) {
    op = copyUpTo64(out, op, offset, 64);
    length -= 64;
  }
  if (length > 64) {
    op = copyUpTo64(out, op, offset, 60);
    length -= 60;
  }
  return copyUpTo64(out, op, offset, length);
}
