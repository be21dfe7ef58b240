/**
 * The snappy compressor of remote write (src/push/snappy.ts), checked against an independent
 * decompressor (test/utils/snappy-decode.ts): round trips of empty, tiny, repetitive, incompressible
 * and 1 MiB inputs, output within snappy's bound, and the hand-decoded bytes of a small input.
 */
import { randomBytes } from 'node:crypto';
import { maxCompressedLength, snappyCompress, snappyCompressParts } from '../../src/push/snappy';
import { snappyDecompress } from '../utils/snappy-decode';

function roundTrip(input: Buffer): Buffer {
  const compressed = snappyCompress(input);
  expect(compressed.length).toBeLessThanOrEqual(maxCompressedLength(input.length));
  expect(snappyDecompress(compressed).equals(input)).toBe(true);
  return compressed;
}

describe('snappy block format', () => {
  it('round-trips empty, one-byte and short inputs (below the 15-byte margin: one literal)', () => {
    expect([...roundTrip(Buffer.alloc(0))]).toEqual([0]);
    expect([...roundTrip(Buffer.from('a'))]).toEqual([1, 0, 0x61]);
    for (let n = 2; n < 40; n++) roundTrip(Buffer.from('xyzw'.repeat(10).slice(0, n)));
  });

  it('writes a literal then a copy for a repeated run, as the format describes', () => {
    // 'abcd' x 8: literal of 'abcd' (tag 3<<2), copy of 28 bytes at offset 4 (2-byte offset form).
    const input = Buffer.from('abcd'.repeat(8));
    const compressed = roundTrip(input);
    expect(compressed[0]).toBe(32);
    expect(compressed.subarray(1, 6).toString('latin1')).toBe('\u000cabcd');
    expect(compressed.length).toBeLessThan(12);
  });

  it('round-trips incompressible input within the bound, and repetitive input to a fraction', () => {
    const random = randomBytes(300_000);
    expect(roundTrip(random).length).toBeLessThan(random.length + 100);
    const text = Buffer.from(
      'veza_http_requests_total{method="GET",route="/users/:id",status="200"} 42\n'.repeat(20_000),
    );
    expect(roundTrip(text).length).toBeLessThan(text.length / 10);
  });

  it('round-trips 1 MiB inputs across 64 KiB fragments (random, zeros, mixed, long matches)', () => {
    roundTrip(randomBytes(1 << 20));
    roundTrip(Buffer.alloc(1 << 20));
    const mixed = Buffer.concat([
      randomBytes(70_000),
      Buffer.alloc(200_000, 7),
      randomBytes(100),
      Buffer.from('ab'.repeat(300_000)),
    ]);
    roundTrip(mixed);
    for (const size of [65_535, 65_536, 65_537, 131_072 + 14, 131_072 + 15]) roundTrip(randomBytes(size));
  });

  it('round-trips random structured inputs (fuzz, fixed seed)', () => {
    let seed = 7;
    const next = (): number => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0);
    for (let round = 0; round < 200; round++) {
      const length = next() % 5000;
      const alphabet = 1 + (next() % 6);
      const input = Buffer.alloc(length);
      for (let i = 0; i < length; i++) input[i] = 97 + (next() % alphabet);
      roundTrip(input);
    }
  });

  it('compresses a list of parts of any sizes as one body, without joining them', async () => {
    const text = Buffer.from('veza_http_requests_total{method="GET"} 42\n'.repeat(5_000));
    const parts = [
      randomBytes(10),
      text.subarray(0, 70_000),
      Buffer.alloc(0),
      text.subarray(70_000),
      randomBytes(100_000),
    ];
    let pauses = 0;
    const out = await snappyCompressParts(parts, () => {
      pauses++;
      return Promise.resolve();
    });
    expect(snappyDecompress(Buffer.concat(out)).equals(Buffer.concat(parts))).toBe(true);
    // One pause per fragment (a part is cut in 64 KiB fragments).
    expect(pauses).toBe(1 + 2 + 3 + 2);
  });

  it('the decompressor refuses a copy before the start and a length that does not match', () => {
    expect(() => snappyDecompress(Buffer.from([4, 0x01 | (0 << 2), 1]))).toThrow(/bad offset/);
    expect(() => snappyDecompress(Buffer.from([3, 0, 0x61]))).toThrow(/announced/);
  });
});
