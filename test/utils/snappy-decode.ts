/**
 * A snappy block-format decompressor for tests (the library only compresses): written from the
 * format description, independently of src/push/snappy.ts, and strict: any malformed input throws.
 */
export function snappyDecompress(input: Uint8Array, maxLength = 256 * 1024 * 1024): Buffer {
  let ip = 0;
  let length = 0;
  for (let shift = 0; ; shift += 7) {
    if (ip >= input.length || shift > 28) throw new Error('snappy: bad length');
    const byte = input[ip++];
    length += (byte & 0x7f) * 2 ** shift;
    if (byte < 0x80) break;
  }
  if (length > maxLength) throw new Error(`snappy: ${length} bytes is over ${maxLength}`);
  const out = Buffer.alloc(length);
  let op = 0;
  const need = (n: number): void => {
    if (ip + n > input.length) throw new Error('snappy: truncated');
  };
  while (ip < input.length) {
    const tag = input[ip++];
    let len: number;
    let offset: number;
    switch (tag & 3) {
      case 0: {
        len = (tag >>> 2) + 1;
        if (len > 60) {
          const bytes = len - 60;
          need(bytes);
          len = 0;
          for (let i = 0; i < bytes; i++) len += input[ip++] * 2 ** (8 * i);
          len += 1;
        }
        need(len);
        if (op + len > length) throw new Error('snappy: literal past the end');
        out.set(input.subarray(ip, ip + len), op);
        ip += len;
        op += len;
        continue;
      }
      case 1:
        need(1);
        len = ((tag >>> 2) & 7) + 4;
        offset = ((tag >>> 5) << 8) | input[ip++];
        break;
      case 2:
        need(2);
        len = (tag >>> 2) + 1;
        offset = input[ip] | (input[ip + 1] << 8);
        ip += 2;
        break;
      default:
        need(4);
        len = (tag >>> 2) + 1;
        offset = (input[ip] | (input[ip + 1] << 8) | (input[ip + 2] << 16) | (input[ip + 3] << 24)) >>> 0;
        ip += 4;
    }
    if (offset === 0 || offset > op) throw new Error(`snappy: bad offset ${offset} at ${op}`);
    if (op + len > length) throw new Error('snappy: copy past the end');
    for (let i = 0; i < len; i++, op++) out[op] = out[op - offset];
  }
  if (op !== length) throw new Error(`snappy: ${op} bytes decoded, ${length} announced`);
  return out;
}
