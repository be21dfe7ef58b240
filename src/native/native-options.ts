/**
 * The `nativeHistograms` option (module) and `nativeHistogram` option (`@Timed`), read with the one
 * option kit (src/options/option-schema.ts): `true` (client_golang's defaults), `false`, or
 * `{ bucketFactor?, maxBuckets?, zeroThreshold?, minResetInterval? }`, resolved to the settings of
 * src/native/native-histogram.ts.
 */
import { check, fail, object, rule, shapeOf, type Rule } from '../options/option-schema';
import {
  resolveNativeConfig,
  type NativeHistogramConfig,
  type NativeHistogramOptions,
} from './native-histogram';

/**
 * The most buckets per sign a series may keep: 65,536 buckets span a ratio of 2^256 between the
 * lowest and the highest value at the finest schema (8), far past any measured range (nanoseconds to
 * years is under 2^60: 15,360 buckets at schema 8), and bound one series at 1 MiB (8 bytes a bucket,
 * both signs). A larger budget could only be a mistake (such as a byte count).
 */
export const MAX_NATIVE_BUCKETS = 65_536;

const finiteAtLeast = (min: number, above: boolean, expected: string, fallback: number): Rule<number> =>
  check<number>(
    (v) => typeof v === 'number' && Number.isFinite(v) && (above ? v > min : v >= min),
    expected,
    fallback,
  );

const settings = object(
  shapeOf<NativeHistogramOptions>()({
    bucketFactor: finiteAtLeast(1, true, 'a finite number above 1 (1.1: buckets 10 % apart)', 1.1),
    maxBuckets: check<number>(
      (v) => typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= MAX_NATIVE_BUCKETS,
      `an integer from 1 to ${MAX_NATIVE_BUCKETS} (buckets per sign a series keeps)`,
      160,
    ),
    zeroThreshold: finiteAtLeast(0, false, 'a finite number >= 0', 2 ** -128),
    minResetInterval: finiteAtLeast(0, false, 'a finite number of milliseconds >= 0 (0: never reset)', 0),
  }),
  '{ bucketFactor?, maxBuckets?, zeroThreshold?, minResetInterval? }',
  { finish: (resolved) => resolveNativeConfig(resolved) },
);

const EXPECTED = 'true, false or { bucketFactor?, maxBuckets?, zeroThreshold?, minResetInterval? }';

/**
 * `nativeHistograms` of the module: `undefined` when not given or `false` (classic only), else the
 * resolved settings.
 */
export const nativeHistogramsRule: Rule<NativeHistogramConfig | undefined> = {
  shape: settings.shape,
  resolve(value, at, siblings) {
    if (value === undefined || value === null || value === false) return undefined;
    if (value === true) return settings.resolve({}, at, siblings);
    if (typeof value !== 'object') fail(at, EXPECTED, value);
    return settings.resolve(value, at, siblings);
  },
};

/**
 * A histogram's own `nativeHistogram` (`@Timed`): `undefined` when not given (the module's
 * setting), `false` (classic only whatever the module says), or the resolved settings.
 */
export const nativeHistogramRule: Rule<NativeHistogramConfig | false | undefined> = rule(
  (value, at, siblings) => {
    if (value === undefined) return undefined;
    if (value === false) return false;
    return nativeHistogramsRule.resolve(value, at, siblings);
  },
);

/** What a histogram of the library's gets: its own setting when given, else the module's. */
export function nativeSettingOf(
  own: NativeHistogramConfig | false | undefined,
  module: NativeHistogramConfig | undefined,
): NativeHistogramConfig | undefined {
  return own === false ? undefined : (own ?? module);
}
