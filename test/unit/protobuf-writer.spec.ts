/**
 * Issue #24: the protobuf writer of the exposition (src/exposition/protobuf-writer.ts), read back
 * with protobufjs' Reader: varints at every length edge, zigzag, 64-bit counts, negative int64,
 * doubles, strings in UTF-8 exactly as the text render writes them (a lone surrogate as U+FFFD),
 * nested lengths that need more bytes than reserved, units larger than a chunk, and delimited
 * messages that span chunks.
 */
import * as protobuf from 'protobufjs';
import Long from 'long';
import { CHUNK_BYTES } from '../../src/exposition/chunk-pool';
import { ProtoWriter, varintSize } from '../../src/exposition/protobuf-writer';

const bytes = (w: ProtoWriter): Buffer => Buffer.concat(w.finish());
const asNumber = (value: number | Long): number => (typeof value === 'number' ? value : value.toNumber());

describe('ProtoWriter', () => {
  it('writes varints of every length, up to 2^53 - 1 (uint64 counts), minimal', () => {
    const values = [
      0,
      1,
      127,
      128,
      255,
      16_383,
      16_384,
      2 ** 31 - 1,
      2 ** 31,
      2 ** 32 - 1,
      2 ** 32,
      2 ** 35,
      2 ** 53 - 1,
    ];
    const w = new ProtoWriter();
    for (const value of values) w.uint(1, value);
    const body = bytes(w);
    expect(body.length).toBe(values.reduce((sum, v) => sum + 1 + varintSize(v), 0));
    const reader = protobuf.Reader.create(body);
    for (const value of values) {
      expect(reader.uint32()).toBe(1 << 3);
      expect(asNumber(reader.uint64() as unknown as Long)).toBe(value);
    }
    expect(reader.pos).toBe(body.length);
    expect(varintSize(2 ** 53 - 1)).toBe(8);
    expect(varintSize(127)).toBe(1);
    expect(varintSize(128)).toBe(2);
  });

  it('writes zigzag (sint32/sint64) and negative int64 values', () => {
    const sints = [0, -1, 1, -2, 63, -64, 64, -65, 2 ** 31 - 1, -(2 ** 31), 2 ** 40, -(2 ** 40)];
    const int64s = [0, 5, -1, -2, -(2 ** 31), -(2 ** 32), -(2 ** 40) - 7, -(2 ** 53 - 1)];
    const w = new ProtoWriter();
    for (const value of sints) w.sint(2, value);
    for (const value of int64s) w.int64(3, value);
    const reader = protobuf.Reader.create(bytes(w));
    for (const value of sints) {
      expect(reader.uint32()).toBe((2 << 3) | 0);
      expect(asNumber(reader.sint64() as unknown as Long)).toBe(value);
    }
    for (const value of int64s) {
      expect(reader.uint32()).toBe((3 << 3) | 0);
      expect(asNumber(reader.int64() as unknown as Long)).toBe(value);
    }
    expect(reader.pos).toBe(reader.len);
  });

  it('writes doubles exactly, NaN and infinities included', () => {
    const values = [
      0,
      -0,
      1.5,
      -2.25e-300,
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      Infinity,
      -Infinity,
      NaN,
      0.1,
    ];
    const w = new ProtoWriter();
    for (const value of values) w.double(4, value);
    const reader = protobuf.Reader.create(bytes(w));
    for (const value of values) {
      expect(reader.uint32()).toBe((4 << 3) | 1);
      expect(Object.is(reader.double(), value)).toBe(true);
    }
  });

  it('writes strings as the text render writes them: UTF-8, multibyte, a lone surrogate as U+FFFD', () => {
    const strings = [
      '',
      'ascii',
      'é',
      'ends in é',
      '日本語のラベル',
      '😀 emoji',
      'lone \ud800 high',
      'lone \udc00 low',
      '\u0000\u0001\u007f\u0080\u07ff\u0800\uffff',
      'a'.repeat(42),
      `${'a'.repeat(41)}é`,
      'é'.repeat(42),
      'a'.repeat(43),
      '€'.repeat(1_000),
      'x'.repeat(100_000),
    ];
    const w = new ProtoWriter();
    for (const text of strings) w.string(5, text);
    const body = bytes(w);
    const reader = protobuf.Reader.create(body);
    for (const text of strings) {
      expect(reader.uint32()).toBe((5 << 3) | 2);
      const raw = reader.bytes();
      // Buffer#write, as the text render's ByteSink: the same bytes.
      expect(Buffer.from(raw).equals(Buffer.from(text, 'utf8'))).toBe(true);
    }
    expect(reader.pos).toBe(body.length);
  });

  it('nests messages with minimal lengths, moving their bytes when a length needs more than reserved', () => {
    const w = new ProtoWriter();
    w.unit();
    w.fork(1); // 1 byte reserved, 300 bytes of content
    w.string(1, 'y'.repeat(297));
    w.fork(2, 2); // 2 bytes reserved, 3 bytes of content
    w.uint(1, 7);
    w.join();
    w.join();
    const body = bytes(w);
    const reader = protobuf.Reader.create(body);
    expect(reader.uint32()).toBe((1 << 3) | 2);
    const outer = reader.uint32();
    expect(reader.pos).toBe(3); // tag + 2-byte length
    expect(outer).toBe(body.length - 3);
    expect(reader.uint32()).toBe((1 << 3) | 2);
    expect(reader.string()).toBe('y'.repeat(297));
    expect(reader.uint32()).toBe((2 << 3) | 2);
    expect(reader.uint32()).toBe(2); // shrunk from 2 reserved bytes to 1
    expect(reader.uint32()).toBe(1 << 3);
    expect(reader.uint32()).toBe(7);
    expect(reader.pos).toBe(body.length);
  });

  it('writes delimited messages across chunks, a unit larger than a chunk whole, lengths minimal', () => {
    const w = new ProtoWriter();
    const messages: string[][] = [];
    for (let m = 0; m < 5; m++) {
      const fields: string[] = [];
      w.beginDelimited();
      for (let i = 0; i < 1_000 * m; i++) {
        w.unit();
        const text = `m${m}-field-${i}-${'z'.repeat(i % 120)}`;
        w.fork(4);
        w.string(1, text);
        w.join();
        fields.push(text);
      }
      if (m === 3) {
        // Bigger than a chunk: a Buffer of its own.
        w.unit();
        const big = 'B'.repeat(CHUNK_BYTES + 10);
        w.fork(4);
        w.string(1, big);
        w.join();
        fields.push(big);
      }
      w.endDelimited();
      messages.push(fields);
    }
    const parts = w.finish();
    expect(parts.length).toBeGreaterThan(5);
    const body = Buffer.concat(parts);
    const reader = protobuf.Reader.create(body);
    for (const fields of messages) {
      const start = reader.pos;
      const length = reader.uint32();
      expect(reader.pos - start).toBe(varintSize(length));
      const end = reader.pos + length;
      for (const text of fields) {
        expect(reader.uint32()).toBe((4 << 3) | 2);
        const inner = reader.uint32();
        const at = reader.pos;
        expect(reader.uint32()).toBe((1 << 3) | 2);
        expect(reader.string()).toBe(text);
        expect(reader.pos - at).toBe(inner);
      }
      expect(reader.pos).toBe(end);
    }
    expect(reader.pos).toBe(body.length);
  });

  it('an empty delimited message is its length, 0', () => {
    const w = new ProtoWriter();
    w.beginDelimited();
    w.endDelimited();
    expect([...bytes(w)]).toEqual([0]);
  });

  it('never loops nor writes more than ten bytes on values out of range (NaN, Infinity, negative)', () => {
    const w = new ProtoWriter();
    for (const value of [NaN, Infinity, -Infinity, -1, 2 ** 64, 2 ** 70]) {
      w.uint(1, value);
      w.sint(2, value);
      w.int64(3, value);
    }
    const reader = protobuf.Reader.create(bytes(w));
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      expect([1, 2, 3]).toContain(tag >>> 3);
      const start = reader.pos;
      reader.skipType(tag & 7);
      expect(reader.pos - start).toBeLessThanOrEqual(10);
    }
  });
});
