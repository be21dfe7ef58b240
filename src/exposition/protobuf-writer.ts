/**
 * A protobuf writer for the exposition: varints, zigzag, doubles and strings, with length-delimited
 * nested messages, written straight into the exposition's reusable 64 KiB chunks (chunk-pool.ts).
 *
 * - **Units.** The exposition is written one unit at a time (a family's header, one series' `Metric`):
 *   a unit stays contiguous, and when it outgrows its chunk it moves whole to the next one (a unit
 *   larger than a chunk gets a Buffer of its own, as a text line does). Nothing is kept beside the
 *   chunks but the start offsets of the messages being written (as deep as the schema: 6).
 * - **Nested messages** reserve one byte (or more, when asked) for their length and move their
 *   bytes when the length needs more: lengths are always minimal varints.
 * - **Delimited messages** (a `MetricFamily`, with its varint length in front) may span chunks: the
 *   length is written into 10 bytes kept free before the message, and the list of parts cuts those
 *   bytes out (the part ends after the length's last byte, the message starts a new part in the
 *   same memory). The parts are what the socket is handed; the first part of every chunk starts at
 *   its offset 0, so `recycleChunks` gives each chunk back once.
 */
import { CHUNK_BYTES, newChunk, renderedChunks, unusedChunk } from './chunk-pool';

/** Protobuf wire types. */
export const WIRE_VARINT = 0;
export const WIRE_FIXED64 = 1;
export const WIRE_LENGTH = 2;

const TWO_32 = 2 ** 32;
const MAX_VARINT = 2 ** 64;

/** Bytes of the minimal varint of a non-negative integer below 2^64. */
export function varintSize(value: number): number {
  let size = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    size++;
  }
  return size;
}

/** Where the length of the delimited message being written goes. */
interface Frame {
  /** Index of its part (a placeholder until the message ends). */
  readonly index: number;
  readonly buffer: Buffer;
  /** The part's start: the bytes before the length in the same chunk. */
  readonly from: number;
  /** Where the length's 10 bytes are. */
  readonly at: number;
  /** Bytes written before the message (its start, in the stream). */
  readonly start: number;
}

/** Writes protobuf into exposition chunks; see the file's comment. One per render. */
export class ProtoWriter {
  private readonly parts: Buffer[] = [];
  private buf: Buffer = newChunk();
  private pos = 0;
  /** Start of the bytes of `buf` not yet in `parts`. */
  private segment = 0;
  /** Start of the unit being written: what moves when it outgrows `buf`. */
  private unitStart = 0;
  /** Bytes in `parts`. */
  private closed = 0;
  /** Offsets in `buf` of the messages being written, and the bytes each reserved for its length. */
  private readonly starts: number[] = [];
  private readonly reserved: number[] = [];
  private frame: Frame | undefined;

  /** Bytes written since the last delimited message began (those before it are not counted). */
  private get length(): number {
    return this.closed + this.pos - this.segment;
  }

  /** Starts a new unit: what is written from here on stays contiguous. No message may be open. */
  unit(): void {
    this.unitStart = this.pos;
  }

  /** Starts a message preceded by its varint length (`writeDelimited`). */
  beginDelimited(): void {
    this.ensure(10);
    const at = this.pos;
    const from = this.segment;
    this.parts.push(this.buf); // placeholder, replaced in endDelimited
    this.pos = at + 10;
    this.segment = this.pos;
    this.unitStart = this.pos;
    // The bytes before the length are in the placeholder's part, not in `closed`.
    this.frame = { index: this.parts.length - 1, buffer: this.buf, from, at, start: this.length };
  }

  /** Ends the message started by {@link beginDelimited}, writing its length in front of it. */
  endDelimited(): void {
    const frame = this.frame;
    if (!frame) throw new Error('no delimited message open');
    this.frame = undefined;
    const size = this.length - frame.start;
    const end = writeVarintAt(frame.buffer, frame.at, size);
    this.parts[frame.index] = frame.buffer.subarray(frame.from, end);
    this.unitStart = this.pos;
  }

  /** Opens a nested message (field `field`, wire type 2), `reserve` bytes kept for its length. */
  fork(field: number, reserve = 1): void {
    this.ensure(5 + reserve);
    this.tag(field, WIRE_LENGTH);
    this.starts.push(this.pos);
    this.reserved.push(reserve);
    this.pos += reserve;
  }

  /** Closes the message opened last, writing its minimal length. */
  join(): void {
    const depth = this.starts.length - 1;
    const reserve = this.reserved[depth];
    let start = this.starts[depth];
    const size = this.pos - start - reserve;
    const need = varintSize(size);
    if (need !== reserve) {
      if (need > reserve) {
        this.ensure(need - reserve);
        start = this.starts[depth]; // moved with its unit
      }
      this.buf.copyWithin(start + need, start + reserve, this.pos);
      this.pos += need - reserve;
    }
    writeVarintAt(this.buf, start, size);
    this.starts.pop();
    this.reserved.pop();
  }

  /** A field's key. */
  tag(field: number, wire: number): void {
    this.ensure(5);
    this.raw((field << 3) | wire);
  }

  /** A varint field of a non-negative integer below 2^64 (uint32, uint64, int32 ≥ 0, enum, bool). */
  uint(field: number, value: number): void {
    // Whatever the caller passes (NaN, Infinity, a negative), a varint of at most ten bytes.
    if (!(value >= 0 && value < MAX_VARINT)) value = 0;
    this.ensure(15);
    this.raw((field << 3) | WIRE_VARINT);
    this.raw(value);
  }

  /** An int64 field (negative values in ten bytes, two's complement). */
  int64(field: number, value: number): void {
    if (!(value >= -(2 ** 63))) value = 0;
    if (value >= 0) return this.uint(field, value);
    this.ensure(15);
    this.raw((field << 3) | WIRE_VARINT);
    let hi = Math.floor(value / TWO_32);
    let lo = value - hi * TWO_32;
    hi = hi >>> 0;
    const b = this.buf;
    let p = this.pos;
    for (let i = 0; i < 4; i++) {
      b[p++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    // bits 28-31 of lo, 0-2 of hi
    b[p++] = lo | ((hi & 0x7) << 4) | 0x80;
    hi >>>= 3;
    for (let i = 0; i < 4; i++) {
      b[p++] = (hi & 0x7f) | 0x80;
      hi >>>= 7;
    }
    b[p++] = hi & 0x01;
    this.pos = p;
  }

  /** A sint32/sint64 field (zigzag), of a safe integer. */
  sint(field: number, value: number): void {
    this.uint(field, value >= 0 ? value * 2 : -value * 2 - 1);
  }

  /** A double field. */
  double(field: number, value: number): void {
    this.ensure(13);
    this.raw((field << 3) | WIRE_FIXED64);
    this.buf.writeDoubleLE(value, this.pos);
    this.pos += 8;
  }

  /** A string field, in UTF-8 as the text render writes it (a lone surrogate becomes U+FFFD). */
  string(field: number, text: string): void {
    const chars = text.length;
    if (chars < 43) {
      // At most 126 bytes: a one-byte length. ASCII written here, anything else by Buffer#write.
      this.ensure(5 + 1 + chars * 3);
      this.raw((field << 3) | WIRE_LENGTH);
      const b = this.buf;
      const at = this.pos;
      let p = at + 1;
      for (let i = 0; i < chars; i++) {
        const code = text.charCodeAt(i);
        if (code >= 0x80) {
          p = at + 1 + b.write(text, at + 1, 'utf8');
          break;
        }
        b[p++] = code;
      }
      b[at] = p - at - 1;
      this.pos = p;
      return;
    }
    const bytes = Buffer.byteLength(text, 'utf8');
    this.ensure(15 + bytes);
    this.raw((field << 3) | WIRE_LENGTH);
    this.raw(bytes);
    this.pos += this.buf.write(text, this.pos, 'utf8');
  }

  /** The exposition's parts, in order; the writer is done. */
  finish(): Buffer[] {
    if (this.pos > this.segment) this.parts.push(this.buf.subarray(this.segment, this.pos));
    else if (this.pos === 0) unusedChunk(this.buf);
    this.buf = Buffer.alloc(0);
    this.pos = 0;
    this.segment = 0;
    renderedChunks(this.parts.length);
    return this.parts;
  }

  /** A varint at `pos` (room ensured by the caller). */
  private raw(value: number): void {
    this.pos = writeVarintAt(this.buf, this.pos, value);
  }

  /** Room for `bytes` more bytes in `buf`: the unit being written moves to a new chunk if needed. */
  private ensure(bytes: number): void {
    if (this.pos + bytes <= this.buf.length) return;
    const from = this.unitStart;
    const keep = this.pos - from;
    if (from > this.segment) {
      this.parts.push(this.buf.subarray(this.segment, from));
      this.closed += from - this.segment;
    }
    const size = keep + bytes;
    const next = size > CHUNK_BYTES ? Buffer.allocUnsafe(size + CHUNK_BYTES) : newChunk();
    this.buf.copy(next, 0, from, this.pos);
    for (let i = 0; i < this.starts.length; i++) this.starts[i] -= from;
    // Nothing of the chunk was handed out (a unit bigger than a chunk, from its start): give it back.
    if (from === 0 && this.segment === 0) unusedChunk(this.buf);
    this.buf = next;
    this.pos = keep;
    this.segment = 0;
    this.unitStart = 0;
  }
}

/** Writes the minimal varint of a non-negative integer below 2^64 at `at`; returns the offset after it. */
export function writeVarintAt(buffer: Buffer, at: number, value: number): number {
  while (value >= 0x80000000) {
    buffer[at++] = (value % 128) | 0x80;
    value = Math.floor(value / 128);
  }
  while (value >= 128) {
    buffer[at++] = (value & 0x7f) | 0x80;
    value >>>= 7;
  }
  buffer[at++] = value;
  return at;
}
