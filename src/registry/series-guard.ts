import type { AnyMetric } from '../compat/client-types';
import { describe } from '../veza-metrics.messages';
import { layoutOf } from '../compat/metrics-client';
import { hashMapLayout } from '../compat/prom-client';

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
type AnyFn = (...args: unknown[]) => unknown;
interface Guardable {
  name: string;
  type: string;
  labelNames: string[];
  enableExemplars?: boolean;
  [method: string]: unknown;
}

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

class InvalidRecording extends Error {}

/** The error of a recording that leaves out declared labels. */
function missingLabels(labelNames: readonly string[], labels: Labels): InvalidRecording {
  const missing = labelNames.filter((n) => !Object.prototype.hasOwnProperty.call(labels, n));
  const list = missing.map((n) => `"${n}"`).join(', ');
  return new InvalidRecording(
    `label${missing.length > 1 ? 's' : ''} ${list} missing (every recording gives all of ${labelNames.join(', ')})`,
  );
}

/**
 * Installs a guard on a prom-client metric's own methods, so that every path that records into it
 * (helpers, the HTTP recorder, decorators, code that injected the metric) gets the same treatment:
 * label values sanitised, unknown label names dropped, at most `cap` label sets (past it, the new
 * ones are folded into one overflow series, so sums stay exact), values Prometheus forbids refused
 * (a counter decreased, a non-finite observation), and nothing ever thrown to the caller.
 */
export function guardMetric(metric: AnyMetric, cap: number, hooks: SeriesGuardHooks): void {
  const m = metric as unknown as Guardable;
  if (m[GUARDED as unknown as string]) return;
  Object.defineProperty(m, GUARDED, { value: true });
  const labelNames = [...m.labelNames];
  const sortedNames = [...labelNames].sort();
  const lengthsOf = (labels: Record<string, string>): string =>
    sortedNames.map((n) => labels[n]?.length).join(',');
  const overflow: Record<string, string> = Object.fromEntries(
    labelNames.map((n) => [n, OVERFLOW_LABEL_VALUE]),
  );
  // The client's key of a series (made injective first where the client allows it: the successor's
  // `|`-joined key); a metric of no known layout is keyed as prom-client keys (A4 of its seam).
  const layout = layoutOf(m) ?? hashMapLayout;
  const { key: seriesKey } = layout.seriesKey(m);
  const client = layout.client;
  const overflowKey = seriesKey(overflow);
  // The label sets admitted, by the client's key of their series (values already cut to 256 units),
  // each with the lengths of its values: with the names in a fixed order, key and lengths together
  // name exactly one label set whatever the values hold (prom-client's `name:value,` and the
  // successor's `value|` alike), and a second label set under a key already taken is one the client
  // would merge into the first. Bound: `cap` entries plus the overflow series; `remove()` and
  // `reset()` release them.
  const series = new Map<string, string>([[overflowKey, lengthsOf(overflow)]]);
  const report = (error: unknown): undefined => {
    hooks.onError(m.name, error);
    return undefined;
  };

  /** A full label set, sanitised; `undefined` (and reported) when a declared label is missing. */
  const resolve = (labels: Labels): Record<string, string> | undefined => {
    for (const name of Object.keys(labels)) {
      if (!labelNames.includes(name))
        hooks.onError(m.name, new InvalidRecording(`label "${name}" is not one of ${labelNames.join(', ')}`));
    }
    const out: Record<string, string> = {};
    for (const name of labelNames) {
      // A series without one of its labels is never created: prom-client would show it as a series
      // of its own, which Prometheus reads as the empty value (a duplicate of that series).
      if (!Object.prototype.hasOwnProperty.call(labels, name)) {
        hooks.onError(m.name, missingLabels(labelNames, labels));
        return undefined;
      }
      out[name] = sanitizeLabelValue(labels[name]);
    }
    return out;
  };

  /** The labels to record under: an admitted label set, or the overflow series (see `OverflowReason`). */
  const admit = (out: Record<string, string>): Record<string, string> => {
    if (labelNames.length === 0) return out;
    const key = seriesKey(out);
    const shape = lengthsOf(out);
    const known = series.get(key);
    if (known === shape) return out;
    if (known !== undefined) return fold('ambiguous');
    if (series.size - 1 >= cap) return fold('cap');
    series.set(key, shape);
    return out;
  };
  const fold = (reason: OverflowReason): Record<string, string> => {
    hooks.onOverflow(m.name, reason, client);
    return overflow;
  };

  // The label objects `labels()` handed the client: its child records through the guarded methods
  // again with that very object, which is already the guard's (its `__invalid__` or `__overflow__`
  // must not be escaped as input). Weak: a child dropped frees its labels.
  const issued = new WeakSet<object>([overflow]);

  /** Sanitised labels of an admitted series or the overflow series; `undefined` when refused. */
  const guard = (labels: Labels): Record<string, string> | undefined => {
    if (issued.has(labels)) return labels as Record<string, string>;
    const out = resolve(labels);
    return out && admit(out);
  };

  /** `remove(labels)`: frees the label set's place under the cap. */
  const release = (labels: Labels): Record<string, string> | undefined => {
    const out = resolve(labels);
    if (!out) return undefined;
    const key = seriesKey(out);
    if (key !== overflowKey && series.get(key) === lengthsOf(out)) series.delete(key);
    return out;
  };

  const finite = (value: unknown, allowNegative: boolean): boolean => {
    if (value === undefined) return true;
    if (typeof value !== 'number' || !Number.isFinite(value) || (!allowNegative && value < 0)) {
      hooks.onError(m.name, new InvalidRecording(`value ${describe(value)} refused`));
      return false;
    }
    return true;
  };

  /** Records `value` under the guarded `labels` (a labelled metric called without labels is refused). */
  const withLabels = (
    labels: Labels,
    value: unknown,
    allowNegative: boolean,
    record: (labels: Record<string, string>) => unknown,
  ): unknown => {
    if (!finite(value, allowNegative)) return undefined;
    const guarded = guard(labels);
    return guarded && record(guarded);
  };

  /** Wraps `method(labels?, value?)`; `check` validates the value. */
  const wrapValued = (method: string, allowNegative: boolean): void => {
    const original = m[method] as AnyFn | undefined;
    if (typeof original !== 'function') return;
    m[method] = function guarded(this: unknown, a?: unknown, b?: unknown): unknown {
      try {
        if (m.enableExemplars) {
          // prom-client takes ({ labels, value, exemplarLabels }) once exemplars are on; the
          // classic (labels, value) and (value) calls are translated so every caller keeps working.
          if (isLabels(a) && ('labels' in a || 'exemplarLabels' in a || 'value' in a)) {
            const opts = a as { labels?: Labels; value?: unknown; exemplarLabels?: Labels };
            if (!finite(opts.value, allowNegative)) return undefined;
            const labels = guard(opts.labels ?? {});
            if (!labels) return undefined;
            const exemplarLabels = opts.exemplarLabels ? sanitizeLabels(opts.exemplarLabels) : undefined;
            return original.call(m, { ...opts, labels, ...(exemplarLabels ? { exemplarLabels } : {}) });
          }
          if (isLabels(a))
            return withLabels(a, b, allowNegative, (labels) => original.call(m, { labels, value: b }));
          return withLabels({}, a, allowNegative, () => original.call(m, { value: a }));
        }
        if (isLabels(a)) return withLabels(a, b, allowNegative, (labels) => original.call(m, labels, b));
        return withLabels({}, a, allowNegative, () => original.call(m, a));
      } catch (error) {
        return report(error);
      }
    };
  };

  /** Wraps `method(labels?)` (labels only); `child` also for `labels()`, which must return a child. */
  const wrapLabelled = (method: string, child = false, check = guard): void => {
    const original = m[method] as AnyFn | undefined;
    if (typeof original !== 'function') return;
    m[method] = function guarded(this: unknown, ...args: unknown[]): unknown {
      try {
        if (!child && (args.length === 0 || args[0] === undefined)) {
          // No labels: the metric's one series when it has no labels; refused (missing) otherwise.
          return labelNames.length === 0 || check({}) ? original.call(m) : undefined;
        }
        // labels('a', 'b') is positional (a value not given is the empty one, as `labels()` always
        // gave); labels({ ... }) names them, and a name left out is refused. Either way a full set.
        const labels = isLabels(args[0])
          ? args[0]
          : Object.fromEntries(labelNames.map((n, i) => [n, args[i]]));
        const guarded = check(labels);
        if (guarded && child) issued.add(guarded);
        if (guarded) return original.call(m, guarded);
        return child ? NOOP_CHILD : undefined;
      } catch (error) {
        report(error);
        // `metric.labels(x).inc()` must not throw either: a child that records nothing.
        return child ? NOOP_CHILD : undefined;
      }
    };
  };

  if (m.type === 'counter') {
    wrapValued('inc', false);
  } else if (m.type === 'gauge') {
    wrapValued('inc', true);
    wrapValued('dec', true);
    wrapValued('set', true);
    wrapLabelled('setToCurrentTime');
  } else {
    wrapValued('observe', true);
    wrapLabelled('zero');
  }
  wrapLabelled('labels', true);
  wrapLabelled('remove', false, release);
  wrapStartTimer(m, report, issued);

  const reset = m.reset as AnyFn;
  m.reset = function guardedReset(): unknown {
    series.clear();
    series.set(overflowKey, lengthsOf(overflow));
    return reset.call(m);
  };
}

/**
 * `startTimer(labels)` returns `end(moreLabels)`, which records the merged labels at `end`: through
 * the guarded `observe` (or `set`), so the merged labels are guarded too.
 */
function wrapStartTimer(m: Guardable, report: (e: unknown) => undefined, issued: WeakSet<object>): void {
  if (typeof m.startTimer !== 'function') return;
  // Already guarded: the merged labels go through the guard there.
  const record = (m.type === 'gauge' ? m.set : m.observe) as AnyFn;
  m.startTimer = function guardedStartTimer(
    startLabels?: unknown,
  ): (endLabels?: unknown) => number | undefined {
    const started = process.hrtime.bigint();
    return (endLabels?: unknown) => {
      try {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        // A child's timer (its labels the guard's own, see `issued`) records under those very labels.
        const labels =
          isLabels(startLabels) && issued.has(startLabels) && !isLabels(endLabels)
            ? startLabels
            : { ...(isLabels(startLabels) ? startLabels : {}), ...(isLabels(endLabels) ? endLabels : {}) };
        record.call(m, labels, seconds);
        return seconds;
      } catch (error) {
        return report(error);
      }
    };
  };
}
