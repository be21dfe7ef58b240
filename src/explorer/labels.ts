import { labelNotString, labelsDoNotMatch, notANumber } from '../veza-metrics.messages';
import type { Labels } from './series';

/** Past this many distinct label sets, a decorator's series are no longer cached (an unbounded label). */
const CACHE_LIMIT = 500;

/**
 * The series of one metric for label values known only at call time (an order's status, an error
 * type), cached by value so that a repeated value costs a `Map` lookup rather than a label hash.
 */
export class SeriesCache<S> {
  private readonly cache = new Map<string, S>();

  constructor(
    private readonly labelNames: readonly string[],
    private readonly make: (labels: Labels) => S,
  ) {}

  /** The series of `labels`; throws (a problem, not the call's) when a value is not a string or a name is wrong. */
  get(labels: Readonly<Record<string, unknown>>): S {
    if (this.labelNames.length === 1 && Object.keys(labels).length === 1) return this.one(labels[this.labelNames[0]]);
    let key = '';
    for (const name of this.labelNames) {
      const value = labels[name];
      if (typeof value !== 'string') throw new Error(labelNotString(name, value));
      key += `${value}\u0000`;
    }
    let series = this.cache.get(key);
    if (series === undefined) {
      const names = Object.keys(labels);
      if (names.length !== this.labelNames.length) throw new Error(labelsDoNotMatch(names, this.labelNames));
      series = this.make(labels as Labels);
      if (this.cache.size < CACHE_LIMIT) this.cache.set(key, series);
    }
    return series;
  }

  /** The series of a metric with one label. */
  one(value: unknown): S {
    const name = this.labelNames[0];
    if (typeof value !== 'string') throw new Error(labelNotString(name, value));
    let series = this.cache.get(value);
    if (series === undefined) {
      series = this.make({ [name]: value });
      if (this.cache.size < CACHE_LIMIT) this.cache.set(value, series);
    }
    return series;
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
export function applyArgs<R>(fn: (...args: never[]) => R, args: ArrayLike<unknown> | undefined, ...before: unknown[]): R {
  if (before.length > 0) return (fn as (...a: unknown[]) => R)(...before, ...argsArray(args));
  return Reflect.apply(fn, undefined, args ?? NO_ARGS) as R;
}

/** A label value: `source` itself, or what it returns for the call's arguments (checked to be a string). */
export function labelFrom(label: string, source: string | ((...args: never[]) => unknown), args: ArrayLike<unknown> | undefined): string {
  if (typeof source === 'string') return source;
  const value = applyArgs(source, args);
  if (typeof value !== 'string') throw new Error(labelNotString(label, value));
  return value;
}

/** A size or an amount: a finite number >= 0, or a problem. */
export function amount(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(notANumber(what, value));
  return value;
}

const CODE = /^[A-Za-z0-9_.:-]{1,64}$/;
const CLASS_NAME = /^[A-Za-z_$][\w$]{0,63}$/;

/**
 * A bounded name for an error: its `code` when it has a short one (`ER_DUP_ENTRY`, `23505`,
 * `ECONNREFUSED`), else its class name (`QueryFailedError`), else `Error`. Never its message, which
 * would make one series per distinct message.
 */
export function errorType(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code;
    if ((typeof code === 'string' && CODE.test(code)) || (typeof code === 'number' && Number.isInteger(code))) return String(code);
    const name = (error as { constructor?: { name?: unknown } }).constructor?.name;
    if (typeof name === 'string' && CLASS_NAME.test(name) && name !== 'Object') return name;
  }
  return 'Error';
}
