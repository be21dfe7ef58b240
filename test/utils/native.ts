import type { NativeHistogramSnapshot } from '../../src/native/native-histogram';

/**
 * The counts of a native snapshot by bucket key, `+k` for the positive side, `-k` for the negative
 * one, `zero` for the zero bucket (when not empty): what a reader of metrics.proto's spans and deltas
 * sees. Fails the test when the deltas do not match the spans' lengths.
 */
export function countsOf(snapshot: NativeHistogramSnapshot): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [prefix, spans, deltas] of [
    ['+', snapshot.positiveSpans, snapshot.positiveDeltas],
    ['-', snapshot.negativeSpans, snapshot.negativeDeltas],
  ] as const) {
    let key = 0;
    let count = 0;
    let d = 0;
    for (const span of spans) {
      key += span.offset;
      for (let i = 0; i < span.length; i++, key++) {
        count += deltas[d++];
        if (count !== 0) out[`${prefix}${key}`] = count;
      }
    }
    if (d !== deltas.length) throw new Error(`${deltas.length} deltas for ${d} buckets of spans`);
  }
  if (snapshot.zeroCount) out.zero = snapshot.zeroCount;
  return out;
}
