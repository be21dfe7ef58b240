import { detached, MAX_LABEL_VALUE_LENGTH, sanitizeLabelValue } from '../registry/series-guard';
import { labelNotString, labelsDoNotMatch, notANumber } from '../veza-metrics.messages';
import type { Labels } from './cells';

/**
 * A label value as the series guard records it: cut to {@link MAX_LABEL_VALUE_LENGTH} UTF-16 units
 * and made well-formed, in memory of its own. A value already short enough is returned as it is (the
 * guard leaves it as it is too, but for a lone surrogate, which it replaces).
 */
export function boundedLabel(value: string): string {
  return value.length <= MAX_LABEL_VALUE_LENGTH ? value : sanitizeLabelValue(value);
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

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: (labels: Labels) => S,
    private readonly bound: CellCacheBound = { entries: CACHE_LIMIT, units: CACHE_UNITS },
  ) {}

  /** The cell of `labels`; throws (a problem, not the call's) when a value is not a string or a name is wrong. */
  get(labels: Readonly<Record<string, unknown>>): S {
    if (this.labelNames.length === 1 && Object.keys(labels).length === 1)
      return this.one(labels[this.labelNames[0]]);
    return this.many(labels);
  }

  private many(labels: Readonly<Record<string, unknown>>): S {
    // Each value with its length first: values holding the separator cannot make two label sets one key.
    let key = '';
    for (const name of this.labelNames) {
      const value = labels[name];
      if (typeof value !== 'string') throw new Error(labelNotString(name, value));
      const cut = value.length > MAX_LABEL_VALUE_LENGTH ? value.slice(0, MAX_LABEL_VALUE_LENGTH) : value;
      key += `${cut.length}:${cut}`;
    }
    let cell = this.cache.get(key);
    if (cell === undefined) {
      const names = Object.keys(labels);
      if (names.length !== this.labelNames.length) throw new Error(labelsDoNotMatch(names, this.labelNames));
      const bounded: Record<string, string> = {};
      for (const name of this.labelNames) bounded[name] = boundedLabel(labels[name] as string);
      cell = this.make(bounded);
      this.keep(key, cell);
    }
    return cell;
  }

  /** The cell of a metric with one label. */
  one(value: unknown): S {
    const name = this.labelNames[0];
    if (typeof value !== 'string') throw new Error(labelNotString(name, value));
    const cell = this.cache.get(value);
    return cell !== undefined ? cell : this.missed(name, value);
  }

  /** A value not found as it is: a long one is found by its cut, or a new cell is made (and kept if the bound allows). */
  private missed(name: string, value: string): S {
    const key = value.length > MAX_LABEL_VALUE_LENGTH ? value.slice(0, MAX_LABEL_VALUE_LENGTH) : value;
    let cell = key === value ? undefined : this.cache.get(key);
    if (cell === undefined) {
      cell = this.make({ [name]: boundedLabel(value) });
      this.keep(key, cell);
    }
    return cell;
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
  if (typeof value !== 'string') throw new Error(labelNotString(label, value));
  return boundedLabel(value);
}

/** A size or an amount: a finite number >= 0, or a problem. */
export function amount(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0)
    throw new Error(notANumber(what, value));
  return value;
}

const CODE = /^[A-Za-z0-9_.:-]{1,64}$/;
const CLASS_NAME = /^[A-Za-z_$][\w$]{0,63}$/;

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
 * `ECONNREFUSED`), else its class name (`QueryFailedError`), else `Error`. Never its message, which
 * would make one series per distinct message. A property that cannot be read counts as absent: the
 * error itself goes on to the caller untouched.
 */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = readSafely(error, 'code');
    if ((typeof code === 'string' && CODE.test(code)) || (typeof code === 'number' && Number.isInteger(code)))
      return String(code);
    const name = readSafely(readSafely(error, 'constructor'), 'name');
    if (typeof name === 'string' && CLASS_NAME.test(name) && name !== 'Object') return name;
  }
  return 'Error';
}
