import { errorClassName } from '../http/error-labels';
import { detached, inputLabelValue, MAX_LABEL_VALUE_LENGTH } from '../registry/series-guard';
import { labelNotString, labelsBeyondNames, notANumber } from '../veza-metrics.messages';
import type { Labels } from './cells';

/**
 * A label value from input (what a label function returned, an error's `code`) as it is kept and
 * recorded: cut to {@link MAX_LABEL_VALUE_LENGTH} UTF-16 units and made well-formed, in memory of its
 * own, and a value the library reserves (`__overflow__`, `OtherError`, `<unmatched>`, ...) escaped
 * (see `inputLabelValue` of the series guard). Running it again on its result changes nothing.
 */
export function boundedLabel(value: string): string {
  return inputLabelValue(value);
}

/** How many of the names of a label object that does not match are listed in the message. */
const LISTED_NAMES = 10;

/**
 * An error whose message is built when it is first read. The meter logs the first problem of a
 * method and only counts the others, so a label function that returns the wrong thing on every call
 * (a request body) costs one description, not one per call.
 */
export function problem(message: () => string): Error {
  const error = new Error();
  let text: string | undefined;
  Object.defineProperty(error, 'message', {
    get: () => (text ??= message()),
    configurable: true,
    enumerable: false,
  });
  return error;
}

/** Past this many distinct label sets, a decorator's cells are no longer cached (an unbounded label). */
const CACHE_LIMIT = 500;
/**
 * Past this many UTF-16 units of keys, likewise. A key holds the call's label values, each already cut
 * to 256 units (plus its length), so a cache holds at most 500 entries and 65,536 units of keys
 * (128 KiB); each entry's cell keeps the same values once more (its labels, prom-client's key of
 * the series), so a full cache of long values stays under 512 KiB (measured: bench/memory-decorators.bench.ts).
 */
const CACHE_UNITS = 65_536;

/** How much a {@link CellCache} keeps: at most `entries` label sets and `units` UTF-16 units of keys. */
export interface CellCacheBound {
  readonly entries: number;
  readonly units: number;
}

/**
 * The cells of one metric for label values known only at call time (an order's status, an error
 * type), cached by value so that a repeated value costs a `Map` lookup rather than a label hash.
 * Nothing it keeps holds a value longer than the series guard would record: keys are made of cut
 * values, copied out of the caller's strings, and the cells it makes are given cut values.
 */
export class CellCache<S> {
  private readonly cache = new Map<string, S>();
  private units = 0;
  /** The names of a label object are listed once per cache (per decorated method), on its first call. */
  private shapeChecked = false;

  /**
   * @param report where a problem that does not stop the recording goes (a label object with names
   *   beyond the metric's): logged once per method and counted.
   * @param own reserved values the decorator itself gives (the `OtherError` of its default error
   *   type), recorded as they are; every other value is input, escaped when it is reserved.
   * @param bound how many cells, and units of keys, are kept (a queue's job names keep fewer).
   */
  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: (labels: Labels) => S,
    private readonly report?: (error: Error) => void,
    private readonly own?: ReadonlySet<string>,
    private readonly bound: CellCacheBound = { entries: CACHE_LIMIT, units: CACHE_UNITS },
  ) {}

  /**
   * The cell of `labels`; throws (a problem, not the call's) when a value is not a string. Reads
   * the metric's label names only, so a label object with many more keys (a request body) costs as
   * much as one with the right keys: its names are listed once, on the first call, and names beyond
   * the metric's are reported then (once) and otherwise ignored, as the series guard ignores them.
   */
  get(labels: Readonly<Record<string, unknown>>): S {
    if (typeof labels !== 'object' || labels === null)
      throw problem(() => labelNotString(this.labelNames[0] ?? '', labels));
    if (!this.shapeChecked) this.checkShape(labels);
    if (this.labelNames.length === 1) return this.one(labels[this.labelNames[0]]);
    return this.many(labels);
  }

  private checkShape(labels: Readonly<Record<string, unknown>>): void {
    this.shapeChecked = true;
    const names = Object.keys(labels);
    const extra = names.filter((n) => !this.labelNames.includes(n));
    if (extra.length === 0 || this.report === undefined) return;
    const listed = names.slice(0, LISTED_NAMES);
    this.report(new Error(labelsBeyondNames(listed, names.length - listed.length, this.labelNames)));
  }

  private many(labels: Readonly<Record<string, unknown>>): S {
    // Each value with its length first: values holding the separator cannot make two label sets one key.
    let key = '';
    for (const name of this.labelNames) {
      const value = labels[name];
      if (typeof value !== 'string') throw problem(() => labelNotString(name, value));
      const cut = value.length > MAX_LABEL_VALUE_LENGTH ? value.slice(0, MAX_LABEL_VALUE_LENGTH) : value;
      key += `${cut.length}:${cut}`;
    }
    let cell = this.cache.get(key);
    if (cell === undefined) {
      const bounded: Record<string, string> = {};
      for (const name of this.labelNames) {
        const value = labels[name]; // read again (a getter may answer otherwise): checked again
        if (typeof value !== 'string') throw problem(() => labelNotString(name, value));
        bounded[name] = this.bounded(value);
      }
      cell = this.make(bounded);
      this.keep(key, cell);
    }
    return cell;
  }

  /** The cell of a metric with one label. */
  one(value: unknown): S {
    const name = this.labelNames[0];
    if (typeof value !== 'string') throw problem(() => labelNotString(name, value));
    const cell = this.cache.get(value);
    return cell !== undefined ? cell : this.missed(name, value);
  }

  /** A value not found as it is: a long one is found by its cut, or a new cell is made (and kept if the bound allows). */
  private missed(name: string, value: string): S {
    const key = value.length > MAX_LABEL_VALUE_LENGTH ? value.slice(0, MAX_LABEL_VALUE_LENGTH) : value;
    let cell = key === value ? undefined : this.cache.get(key);
    if (cell === undefined) {
      cell = this.make({ [name]: this.bounded(value) });
      this.keep(key, cell);
    }
    return cell;
  }

  private bounded(value: string): string {
    return this.own?.has(value) ? value : boundedLabel(value);
  }

  /**
   * Bound: the constructor's (by default {@link CACHE_LIMIT} entries and {@link CACHE_UNITS} units
   * of keys); past either, not kept.
   */
  private keep(key: string, cell: S): void {
    if (this.cache.size >= this.bound.entries || this.units + key.length > this.bound.units) return;
    this.units += key.length;
    this.cache.set(detached(key), cell);
  }
}

const NO_ARGS: readonly unknown[] = [];

/** The call's arguments as an array (a plain loop: `Array.from(arguments)` costs half a microsecond). */
export function argsArray(args: ArrayLike<unknown> | undefined): unknown[] {
  if (args === undefined) return [];
  const copy = new Array<unknown>(args.length);
  for (let i = 0; i < args.length; i++) copy[i] = args[i];
  return copy;
}

/** Calls `fn` with the call's arguments, without copying them. */
export function applyArgs<R>(
  fn: (...args: never[]) => R,
  args: ArrayLike<unknown> | undefined,
  ...before: unknown[]
): R {
  if (before.length > 0) return (fn as (...a: unknown[]) => R)(...before, ...argsArray(args));
  return Reflect.apply(fn, undefined, args ?? NO_ARGS) as R;
}

/** A label value: `source` itself, or what it returns for the call's arguments (checked to be a string). */
export function labelFrom(
  label: string,
  source: string | ((...args: never[]) => unknown),
  args: ArrayLike<unknown> | undefined,
): string {
  if (typeof source === 'string') return source;
  const value = applyArgs(source, args);
  if (typeof value !== 'string') throw problem(() => labelNotString(label, value));
  return boundedLabel(value);
}

/** A size or an amount: a finite number >= 0, or a problem. */
export function amount(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw problem(() => notANumber(what, value));
  return value;
}

const CODE = /^[A-Za-z0-9_.:-]{1,64}$/;

/** `object[key]`, or `undefined` when reading it throws (a getter, a Proxy trap, a revoked Proxy). */
export function readSafely(object: unknown, key: string): unknown {
  try {
    return (object as Record<string, unknown>)[key];
  } catch {
    return undefined;
  }
}

/**
 * A bounded name for an error: its `code` when it has a short one (`ER_DUP_ENTRY`, `23505`,
 * `ECONNREFUSED`), else its class name by the one rule of every error-type label
 * ({@link errorClassName}: `QueryFailedError`; `OtherError` for a thrown value that is no error).
 * Never its message, which would make one series per distinct message. A property that cannot be
 * read counts as absent: the error itself goes on to the caller untouched.
 */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = readSafely(error, 'code');
    if ((typeof code === 'string' && CODE.test(code)) || (typeof code === 'number' && Number.isInteger(code)))
      return boundedLabel(String(code));
  }
  return errorClassName(error);
}
