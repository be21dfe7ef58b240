import type { AnyMetric } from '../compat/client-types';
import { describe } from '../veza-metrics.messages';
import {
  bucketsOf,
  layoutOf,
  metricFields,
  replaceRecordingMethods,
  routeChild,
} from '../compat/metrics-client';
import { hashMapLayout } from '../compat/prom-client';
import type { SeriesLayout } from '../compat/series-storage';
import { nativeConfigOf } from '../native/native-histogram';
import { fileNative } from '../native/native-filing';

/** The label value every series past a metric's cap is folded into (all its labels take it). */
export const OVERFLOW_LABEL_VALUE = '__overflow__';
/** The label value of a value that is not a string, number, boolean, bigint, null or undefined. */
export const INVALID_LABEL_VALUE = '__invalid__';
/** Longer label values are cut to this many UTF-16 units (and made well-formed again). */
export const MAX_LABEL_VALUE_LENGTH = 256;

/**
 * The label values the series guard gives a meaning of its own. A string recorded with one of them
 * (whoever passed it: an operation name, a decorator's label function, code that injected a metric)
 * is recorded as {@link escapeReserved} spells it, so no input reaches the overflow series or
 * passes for a value that was not a string.
 */
export const GUARD_LABEL_VALUES: readonly string[] = [OVERFLOW_LABEL_VALUE, INVALID_LABEL_VALUE];

/**
 * The label values the library's recorders choose themselves (`UNMATCHED_ENDPOINT`,
 * `PREFLIGHT_ENDPOINT`, `OTHER_ERROR_TYPE`, `NO_EXCEPTION_ERROR_TYPE`, GraphQL's `<anonymous>` and
 * `<other>`), plus the guard's own. A value from input (what a decorator's label function returns,
 * an error's `code`) equal to one of them is recorded as {@link escapeReserved} spells it, so it never
 * takes a series the library fills with a meaning of its own. The recorders' own constants are written
 * as they are. `test/unit/reserved-label-values.spec.ts` checks that every such constant is listed.
 */
export const RESERVED_LABEL_VALUES: readonly string[] = [
  ...GUARD_LABEL_VALUES,
  '<unmatched>',
  '<preflight>',
  '<none>',
  '<anonymous>',
  '<other>',
  'OtherError',
];
const GUARD_RESERVED: ReadonlySet<string> = new Set(GUARD_LABEL_VALUES);
const RESERVED: ReadonlySet<string> = new Set(RESERVED_LABEL_VALUES);

/**
 * How a value from input equal to a reserved value is recorded: with a backslash in front
 * (`__overflow__` becomes `\__overflow__`, shown `"\\__overflow__"` in the exposition). The
 * result is reserved by no one, so escaping again leaves it as it is (every stage that bounds a value
 * may run this): input spelled `\__overflow__` shares that series, and no input shares the
 * library's.
 */
export function escapeReserved(value: string): string {
  return `\\${value}`;
}

/**
 * A label value from input, as it is kept and recorded: cut and made well-formed as
 * {@link sanitizeLabelValue} does (the guard's reserved values escaped), and any other value the
 * library reserves ({@link RESERVED_LABEL_VALUES}) escaped too.
 */
export function inputLabelValue(value: string): string {
  const text = sanitizeLabelValue(value);
  return RESERVED.has(text) ? escapeReserved(text) : text;
}

/**
 * Why a recording went into the overflow series: the metric reached its cap; or its label set would share the client's series
 * with another label set (prom-client: values holding `,` and `name:`; the successor only when its
 * keys could not be made injective: values holding `|`), so the two would be merged under the
 * labels of the first.
 */
export type OverflowReason = 'cap' | 'ambiguous';

/** What a guard reports; both are called at most once per event and must not throw. */
export interface SeriesGuardHooks {
  /** A recording was folded into the overflow series (`client`: whose keying made it ambiguous). */
  onOverflow(metric: string, reason: OverflowReason, client?: string): void;
  /** A recording was refused (a bad value, an unknown or missing label, prom-client threw). */
  onError(metric: string, error: unknown): void;
}

type WellFormed = { isWellFormed(): boolean; toWellFormed(): string };

/**
 * A copy of `text` that shares no memory with the string it came from. V8 keeps a substring of 13
 * units or more as a view on its parent: a 256-unit cut of a 1 MB value would keep the whole 1 MB
 * alive for as long as the cut is kept (in prom-client's labels, in a cache). JSON's parser builds a
 * new string.
 */
export function detached(text: string): string {
  return text.length < 13 ? text : (JSON.parse(JSON.stringify(text)) as string);
}

/**
 * Turns anything code may pass as a label value into a valid, bounded string: numbers and booleans
 * as text, `null`/`undefined` as empty, objects as `__invalid__`, 64 KiB strings cut to 256 units
 * (in memory of their own), lone surrogates replaced (the exposition must be valid UTF-8), and a
 * string equal to one of the guard's own values ({@link GUARD_LABEL_VALUES}) escaped
 * ({@link escapeReserved}). Running it again on its result changes nothing.
 */
export function sanitizeLabelValue(value: unknown): string {
  let text: string;
  if (typeof value === 'string') text = value;
  else if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint')
    text = String(value);
  else if (value === undefined || value === null) text = '';
  else text = INVALID_LABEL_VALUE;
  if (text.length > MAX_LABEL_VALUE_LENGTH) text = detached(text.slice(0, MAX_LABEL_VALUE_LENGTH));
  const wf = text as unknown as WellFormed;
  if (!wf.isWellFormed()) return wf.toWellFormed();
  return typeof value === 'string' && GUARD_RESERVED.has(text) ? escapeReserved(text) : text;
}

type Labels = Record<string, unknown>;

/** Exemplar labels: sanitised values, and at most 128 UTF-8 bytes in all as OpenMetrics requires. */
function sanitizeLabels(labels: Labels): Record<string, string> {
  const out: Record<string, string> = {};
  let bytes = 0;
  for (const [name, value] of Object.entries(labels)) {
    const text = sanitizeLabelValue(value);
    bytes += Buffer.byteLength(name) + Buffer.byteLength(text);
    if (bytes > 128) break;
    out[name] = text;
  }
  return out;
}
type AnyFn = (this: unknown, ...args: unknown[]) => unknown;
type Guarded = Record<string, string>;

const GUARDED = Symbol('vezaSeriesGuard');

/** What `labels()` returns when it cannot resolve a series: every method of a child, recording nothing. */
const NOOP_CHILD = Object.freeze({
  inc: (): void => undefined,
  dec: (): void => undefined,
  set: (): void => undefined,
  setToCurrentTime: (): void => undefined,
  observe: (): void => undefined,
  startTimer: (): (() => number) => () => 0,
});
const isLabels = (v: unknown): v is Labels => typeof v === 'object' && v !== null && !Array.isArray(v);
const has = (labels: Labels, name: string): boolean => Object.prototype.hasOwnProperty.call(labels, name);

class InvalidRecording extends Error {}

/** The error of a recording that leaves out declared labels. */
function missingLabels(labelNames: readonly string[], labels: Labels): InvalidRecording {
  const missing = labelNames.filter((n) => !has(labels, n));
  const list = missing.map((n) => `"${n}"`).join(', ');
  return new InvalidRecording(
    `label${missing.length > 1 ? 's' : ''} ${list} missing (every recording gives all of ${labelNames.join(', ')})`,
  );
}

/**
 * The label sets a metric admitted, by the client's key of their series (values already cut to 256
 * units), each with the lengths of its values: with the names in a fixed order, key and lengths
 * together name exactly one label set whatever the values hold (prom-client's `name:value,` and the
 * successor's `value|` alike), and a second label set under a key already taken is one the client
 * would merge into the first. Bound: `cap` entries plus the overflow series; `remove()` and
 * `reset()` release them.
 */
class AdmittedSeries {
  /** Every label set past the cap, or ambiguous, is recorded under these labels. */
  readonly overflow: Guarded;
  private readonly sortedNames: readonly string[];
  private readonly seriesKey: (labels: Guarded) => string;
  private readonly overflowKey: string;
  private readonly client: string;
  private readonly series = new Map<string, string>();

  constructor(
    private readonly labelNames: readonly string[],
    metric: object,
    private readonly cap: number,
    /** Called when a label set is folded into the overflow series. */
    private readonly folded: (reason: OverflowReason, client: string) => void,
  ) {
    this.sortedNames = [...labelNames].sort();
    this.overflow = Object.fromEntries(labelNames.map((n) => [n, OVERFLOW_LABEL_VALUE]));
    // The client's key of a series (made injective first where the client allows it: the successor's
    // `|`-joined key); a metric of no known layout is keyed as prom-client keys (A4 of its seam).
    const layout = layoutOf(metric) ?? hashMapLayout;
    this.seriesKey = layout.seriesKey(metric).key;
    this.client = layout.client;
    this.overflowKey = this.seriesKey(this.overflow);
    this.clear();
  }

  private lengthsOf(labels: Guarded): string {
    return this.sortedNames.map((n) => labels[n]?.length).join(',');
  }

  /** The labels to record under: `labels` when admitted, else the overflow series (see `OverflowReason`). */
  admit(labels: Guarded): Guarded {
    if (this.labelNames.length === 0) return labels;
    const key = this.seriesKey(labels);
    const shape = this.lengthsOf(labels);
    const known = this.series.get(key);
    if (known === shape) return labels;
    if (known !== undefined) return this.fold('ambiguous');
    if (this.series.size - 1 >= this.cap) return this.fold('cap');
    this.series.set(key, shape);
    return labels;
  }

  /** Frees the place of `labels` under the cap (`remove(labels)`). */
  release(labels: Guarded): void {
    const key = this.seriesKey(labels);
    if (key !== this.overflowKey && this.series.get(key) === this.lengthsOf(labels)) this.series.delete(key);
  }

  /** Forgets every label set (`reset()`). */
  clear(): void {
    this.series.clear();
    this.series.set(this.overflowKey, this.lengthsOf(this.overflow));
  }

  private fold(reason: OverflowReason): Guarded {
    this.folded(reason, this.client);
    return this.overflow;
  }
}

/**
 * What every recording into one metric goes through: its labels resolved (declared names only, all
 * of them, sanitised), admitted under the cap, its value checked; whatever fails is reported, never
 * thrown.
 */
class MetricGuard {
  private readonly labelNames: readonly string[];
  private readonly exemplars: boolean;
  private readonly admitted: AdmittedSeries;
  /**
   * The label objects `labels()` handed the client: its child records through the guarded methods
   * again with that very object, which is already the guard's (its `__invalid__` or `__overflow__`
   * must not be escaped as input). Weak: a child dropped frees its labels.
   */
  private readonly issued: WeakSet<object>;
  /** Where a histogram's native part is filed (the entry of a label set); `undefined`: no native part. */
  private readonly layout: SeriesLayout | undefined;
  private readonly histogram: boolean;

  constructor(
    private readonly metric: object,
    private readonly name: string,
    cap: number,
    private readonly hooks: SeriesGuardHooks,
  ) {
    const fields = metricFields(metric);
    this.labelNames = [...fields.labelNames];
    this.exemplars = fields.exemplars;
    this.histogram = fields.type === 'histogram';
    this.layout = this.histogram ? layoutOf(metric) : undefined;
    this.admitted = new AdmittedSeries(this.labelNames, metric, cap, (reason, client) =>
      hooks.onOverflow(name, reason, client),
    );
    this.issued = new WeakSet<object>([this.admitted.overflow]);
  }

  report(error: unknown): undefined {
    this.hooks.onError(this.name, error);
    return undefined;
  }

  /** A full label set, sanitised; `undefined` (and reported) when a declared label is missing. */
  private resolve(labels: Labels): Guarded | undefined {
    for (const name of Object.keys(labels)) {
      if (!this.labelNames.includes(name))
        this.report(new InvalidRecording(`label "${name}" is not one of ${this.labelNames.join(', ')}`));
    }
    const out: Guarded = {};
    for (const name of this.labelNames) {
      // A series without one of its labels is never created: prom-client would show it as a series
      // of its own, which Prometheus reads as the empty value (a duplicate of that series).
      if (!has(labels, name)) {
        this.report(missingLabels(this.labelNames, labels));
        return undefined;
      }
      out[name] = sanitizeLabelValue(labels[name]);
    }
    return out;
  }

  /** Sanitised labels of an admitted series or the overflow series; `undefined` when refused. */
  readonly guard = (labels: Labels): Guarded | undefined => {
    if (this.issued.has(labels)) return labels as Guarded;
    const out = this.resolve(labels);
    return out && this.admitted.admit(out);
  };

  /** `remove(labels)`: the sanitised labels, their place under the cap freed. */
  readonly release = (labels: Labels): Guarded | undefined => {
    const out = this.resolve(labels);
    if (out) this.admitted.release(out);
    return out;
  };

  /** Whether `value` may be recorded (`undefined` is the client's default). */
  private finite(value: unknown, allowNegative: boolean): boolean {
    if (value === undefined) return true;
    if (typeof value !== 'number' || !Number.isFinite(value) || (!allowNegative && value < 0)) {
      this.report(new InvalidRecording(`value ${describe(value)} refused`));
      return false;
    }
    return true;
  }

  /**
   * After the client's `observe` filed a finite `value` under `labels` (guarded): the same value into
   * the native part of that entry, when the histogram has one. A histogram whose entries cannot be
   * found (no known layout) files nothing natively: its series are then served classic only.
   */
  private fileNative(labels: Labels, value: unknown): void {
    const config = nativeConfigOf(this.metric);
    if (config === undefined || typeof value !== 'number' || !Number.isFinite(value)) return;
    const entry = this.layout?.entryOf(this.metric, labels);
    if (entry !== undefined) fileNative(entry, config, value, bucketsOf(this.metric));
  }

  /** `original` (the client's `observe`) then, for a histogram, its native part. */
  private observed(original: AnyFn, args: unknown[], labels: Labels, value: unknown): unknown {
    const result = original.apply(this.metric, args);
    if (this.histogram) this.fileNative(labels, value);
    return result;
  }

  /** Records `value` under the guarded `labels` (a labelled metric called without labels is refused). */
  private withLabels(
    labels: Labels,
    value: unknown,
    allowNegative: boolean,
    record: (labels: Guarded) => unknown,
  ): unknown {
    if (!this.finite(value, allowNegative)) return undefined;
    const guarded = this.guard(labels);
    return guarded && record(guarded);
  }

  /**
   * `method(labels?, value?)` with exemplars on: the client takes `({ labels, value, exemplarLabels })`,
   * and the classic `(labels, value)` and `(value)` calls are translated so every caller keeps working.
   */
  private recordExemplary(original: AnyFn, allowNegative: boolean, a: unknown, b: unknown): unknown {
    if (isLabels(a) && ('labels' in a || 'exemplarLabels' in a || 'value' in a)) {
      const opts = a as { labels?: Labels; value?: unknown; exemplarLabels?: Labels };
      if (!this.finite(opts.value, allowNegative)) return undefined;
      const labels = this.guard(opts.labels ?? {});
      if (!labels) return undefined;
      const exemplarLabels = opts.exemplarLabels ? sanitizeLabels(opts.exemplarLabels) : undefined;
      return this.observed(
        original,
        [{ ...opts, labels, ...(exemplarLabels ? { exemplarLabels } : {}) }],
        labels,
        opts.value,
      );
    }
    if (isLabels(a))
      return this.withLabels(a, b, allowNegative, (labels) =>
        this.observed(original, [{ labels, value: b }], labels, b),
      );
    return this.withLabels({}, a, allowNegative, () => this.observed(original, [{ value: a }], {}, a));
  }

  /** `inc`, `dec`, `set`, `observe`: `(labels?, value?)`. */
  valued(original: AnyFn, allowNegative: boolean): AnyFn {
    return (a?: unknown, b?: unknown): unknown => {
      try {
        if (this.exemplars) return this.recordExemplary(original, allowNegative, a, b);
        if (isLabels(a))
          return this.withLabels(a, b, allowNegative, (labels) =>
            this.observed(original, [labels, b], labels, b),
          );
        return this.withLabels({}, a, allowNegative, () => this.observed(original, [a], {}, a));
      } catch (error) {
        return this.report(error);
      }
    };
  }

  /** The full label set of a labels-only call: `labels('a', 'b')` by position, `labels({ ... })` by name. */
  private labelsOf(args: readonly unknown[]): Labels {
    // Positional: a value not given is the empty one, as `labels()` always gave; by name, a name left
    // out is refused. Either way a full set.
    return isLabels(args[0]) ? args[0] : Object.fromEntries(this.labelNames.map((n, i) => [n, args[i]]));
  }

  /** `setToCurrentTime`, `zero` (`record`), `labels` (`child`, which must return a child), `remove` (`release`). */
  labelled(original: AnyFn, role: 'record' | 'child' | 'release'): AnyFn {
    const m = this.metric;
    const child = role === 'child';
    const check = role === 'release' ? this.release : this.guard;
    return (...args: unknown[]): unknown => {
      try {
        if (!child && (args.length === 0 || args[0] === undefined)) {
          // No labels: the metric's one series when it has no labels; refused (missing) otherwise.
          return this.labelNames.length === 0 || check({}) ? original.call(m) : undefined;
        }
        const guarded = check(this.labelsOf(args));
        if (!guarded) return child ? NOOP_CHILD : undefined;
        if (!child) return original.call(m, guarded);
        this.issued.add(guarded);
        return routeChild(m, original.call(m, guarded), guarded);
      } catch (error) {
        this.report(error);
        // `metric.labels(x).inc()` must not throw either: a child that records nothing.
        return child ? NOOP_CHILD : undefined;
      }
    };
  }

  /**
   * `startTimer(labels)` returns `end(moreLabels)`, which records the merged labels at `end` through
   * `record`, the guarded `observe` (or `set`), so the merged labels are guarded too.
   */
  startTimer(record: AnyFn): AnyFn {
    const m = this.metric;
    return (startLabels?: unknown): ((endLabels?: unknown) => number | undefined) => {
      const started = process.hrtime.bigint();
      return (endLabels?: unknown) => {
        try {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          record.call(m, this.timerLabels(startLabels, endLabels), seconds);
          return seconds;
        } catch (error) {
          return this.report(error);
        }
      };
    };
  }

  /** A timer's labels at its end: a child's (the guard's own, see `issued`) as they are, else both merged. */
  private timerLabels(startLabels: unknown, endLabels: unknown): Labels {
    if (isLabels(startLabels) && this.issued.has(startLabels) && !isLabels(endLabels)) return startLabels;
    return { ...(isLabels(startLabels) ? startLabels : {}), ...(isLabels(endLabels) ? endLabels : {}) };
  }

  /** `reset()`: every label set forgotten with the series. */
  reset(original: AnyFn): AnyFn {
    const m = this.metric;
    return (): unknown => {
      this.admitted.clear();
      return original.call(m);
    };
  }
}

/**
 * Installs a guard on a metric's own methods (C2 of src/compat/metrics-client.ts), so that every
 * path that records into it (helpers, the HTTP recorder, decorators, code that injected the metric)
 * gets the same treatment: label values sanitised, unknown label names dropped, at most `cap` label
 * sets (past it, the new ones are folded into one overflow series, so sums stay exact), values
 * Prometheus forbids refused (a counter decreased, a non-finite observation), and nothing ever thrown
 * to the caller.
 */
export function guardMetric(metric: AnyMetric, cap: number, hooks: SeriesGuardHooks): void {
  const m = metric as unknown as Record<PropertyKey, unknown>;
  if (m[GUARDED]) return;
  Object.defineProperty(m, GUARDED, { value: true });
  const guard = new MetricGuard(metric, metricFields(metric).name, cap, hooks);
  replaceRecordingMethods(metric, {
    valued: (original, allowNegative) => guard.valued(original, allowNegative),
    labelled: (original, role) => guard.labelled(original, role),
    startTimer: (record) => guard.startTimer(record),
    reset: (original) => guard.reset(original),
  });
}
