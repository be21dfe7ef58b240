import { unknownOption } from '../veza-metrics.messages';

const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * Tells whether `value` is a plain object: an object literal such as `{ port: 9464 }` (from this
 * realm or another one: a `vm` context, Jest's sandbox, `structuredClone`), or an object made with
 * `Object.create(null)`. Anything else is not: `null`, arrays, functions, class instances, and
 * built-in objects such as `Map`, `Date` or `URL`. Options are read key by key, so an object whose
 * settings live on a prototype or inside a collection is refused rather than half read.
 */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return isObjectPrototype(Object.getPrototypeOf(value));
}

/** `Object.prototype` of any realm, or `null`. */
export function isObjectPrototype(prototype: unknown): boolean {
  if (prototype === Object.prototype || prototype === null) return true;
  if (typeof prototype !== 'object' || Object.getPrototypeOf(prototype) !== null) return false;
  const constructor = Object.getOwnPropertyDescriptor(prototype, 'constructor')?.value as
    { name?: unknown } | undefined;
  return typeof constructor === 'function' && constructor.name === 'Object';
}

/**
 * Builds the message of an unknown key: the key's full name (such as `"metricsServer.prot"`) and the
 * keys that are allowed there.
 */
export type UnknownKeyMessage = (key: string, known: readonly string[]) => string;

/**
 * Throws an `Error` when `value` has an own key that is not one of `known`. The error is about the
 * first such key; its full name is `option` and the key joined by a dot (the key alone when `option`
 * is empty, i.e. for top-level options), and the message lists the allowed keys. `message` writes the
 * text; by default it is the module's "unknown option" message (`VezaMetricsModule: unknown option
 * "metricsServer.prot"; expected one of port, host.`). Returns nothing when every key is known.
 */
export function checkKeys(
  option: string,
  value: Record<string, unknown>,
  known: readonly string[],
  message: UnknownKeyMessage = unknownOption,
): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new Error(message(option ? `${option}.${key}` : key, known));
  }
}

/**
 * Tells whether `name` can be the name of a Prometheus label set by the application: letters, digits
 * and `_`, not starting with a digit, and not starting with `__` (which Prometheus keeps for itself).
 */
export function isLabelName(name: string): boolean {
  return LABEL_NAME.test(name) && !name.startsWith('__');
}

/**
 * Tells whether `value` is a list of histogram bucket boundaries: a non-empty array of finite
 * numbers in strictly increasing order (the module's `buckets` and the decorators' `buckets`).
 */
export function isBucketList(value: unknown): value is readonly number[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (b: unknown, i) =>
        typeof b === 'number' && Number.isFinite(b) && (i === 0 || b > (value[i - 1] as number)),
    )
  );
}
