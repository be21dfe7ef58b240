/**
 * Where a histogram's native part is filed: right after the client (or a seam's slot) filed the
 * same value into the classic part of the same entry, once per observation, by every path that
 * records (the series guard's `observe`, which children of `labels()` and timers' ends go through,
 * and the slots of the fast paths). When the native part resets (`minResetInterval`), the classic
 * part of the entry is made to hold only that value too, so the two always hold the same count.
 */
import { bucketKeysOf, refileOnly, type BucketKeys, type SeriesEntry } from '../compat/series-storage';
import { nativeOf, type NativeHistogram, type NativeHistogramConfig } from './native-histogram';

/** A slot's native filing: the entry's native part kept at hand while it is the entry's. */
export class NativeFiler {
  private native: NativeHistogram | undefined;

  constructor(private readonly config: NativeHistogramConfig) {}

  /** Files `value` (finite, just filed into `entry`'s classic part through `buckets`). */
  file(entry: SeriesEntry, buckets: BucketKeys, value: number): void {
    let native = this.native;
    // The successor's `zero()` gives the entry new bucket values: its native part starts again.
    if (native === undefined || native.classic !== entry.bucketValues)
      native = this.native = nativeOf(entry, this.config);
    if (native.observe(value)) refileOnly(entry, buckets, value);
  }
}

/**
 * Files `value` (finite, just filed by the client's `observe` into `entry`) into the native part of
 * `entry`; on a reset, the classic part (of the metric's `bounds`) is made to hold only
 * `value` (when its buckets cannot be read, it is left, and the series is served classic only: counts
 * never disagree).
 */
export function fileNative(
  entry: SeriesEntry,
  config: NativeHistogramConfig,
  value: number,
  bounds: readonly number[] | undefined,
): void {
  if (!nativeOf(entry, config).observe(value)) return;
  const buckets = bucketKeysOf(bounds, entry);
  if (buckets) refileOnly(entry, buckets, value);
}
