import type { AnyMetric as Metric } from '../compat/client-types';
import type { NativeHistogramConfig } from '../native/native-histogram';
import type { CatalogDefinitions } from '../registry/catalog-definitions';
import type { VezaMetricsRegistry } from '../registry/veza-metrics.registry';

/** How a call ended: it returned (or its Promise resolved, its Observable completed), it threw, or its subscriber left first. */
export const SUCCESS = 0;
export const FAILURE = 1;
export const CANCELLED = 2;
export type Outcome = typeof SUCCESS | typeof FAILURE | typeof CANCELLED;

/** The arguments of the call, when an instrument asked for them. */
export type CallArgs = ArrayLike<unknown> | undefined;

/**
 * What one decorator does with one call, bound to one application's metrics. `end` may throw (a
 * label function failed, a size was not a number): the meter catches it, logs it once and counts
 * it, and the call is not affected. An instrument computes everything before it writes anything, so
 * that a failure never leaves half a record.
 */
export interface Instrument {
  /**
   * The work is in flight: a Promise was returned, an Observable subscribed (sync calls: just before
   * `end`). What it returns is handed to `end` for this very call (`undefined` if `start` threw).
   */
  start?(args: CallArgs): unknown;
  end(outcome: Outcome, value: unknown, seconds: number, args: CallArgs, started: unknown): void;
}

/** A metric a generic decorator (`@Counted`, `@Timed`, `@InProgress`) owns. */
export interface AppMetricDefinition {
  readonly kind: 'counter' | 'gauge' | 'histogram';
  readonly name: string;
  readonly help: string;
  readonly labelNames: readonly string[];
  readonly buckets?: readonly number[];
  /** A histogram's own native setting (`@Timed`'s `nativeHistogram`): `false` none; not given, the module's. */
  readonly native?: NativeHistogramConfig | false;
}

/** What an instrument is built from, at bootstrap, for one decorated method of one application. */
export interface BuildContext {
  /** `"AuthService#login"`. */
  readonly place: string;
  readonly metrics: VezaMetricsRegistry;
  /** How the catalog metrics are exposed (a histogram's unit scale under strict naming). */
  readonly definitions: CatalogDefinitions;
  /** The application's metric for a generic decorator: created on first use, shared by identical definitions. */
  readonly appMetric: (definition: AppMetricDefinition, decorator: string) => Metric;
  /** A problem that does not stop the call's recording (logged once per method, counted, as a thrown one). */
  readonly report: (error: unknown) => void;
}

/** What a decorator records, as data: kept on the method at decoration time, built per application at bootstrap. */
export interface InstrumentSpec {
  /** As written, for messages: `@TrackDbQuery('select', 'tracks')`. */
  readonly decorator: string;
  /** The decorator's name, the `decorator` label of the self-metric: `TrackDbQuery`. */
  readonly name: string;
  /** Two specs of one identity on one method would record twice: refused at decoration time. */
  readonly identity: string;
  /** The instrument needs the call's duration. */
  readonly timed: boolean;
  /** The instrument reads the call's arguments. */
  readonly needsArgs: boolean;
  /** The catalog metrics it writes (seed names). */
  readonly writes: readonly string[];
  /** The catalog gauges it moves up and down: they cannot also be read at scrape time by `@GaugeSource`. */
  readonly steps?: readonly string[];
  build(context: BuildContext): Instrument;
}
