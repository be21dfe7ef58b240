/**
 * One way to validate options: a declarative schema per options interface, built from the small
 * rules below, that reads a value, throws the first mistake with a message of
 * `veza-metrics.messages.ts`, and returns the value resolved (defaults filled in).
 *
 * - A schema is tied to its interface by type: `shapeOf<ScrapeOptions>()({ ... })` must have a rule
 *   for every key of `ScrapeOptions` and no other key, so adding an option to an interface without
 *   its rule fails the build (test/unit/option-schema.spec.ts compiles the `@ts-expect-error` cases
 *   of test/unit/fixtures/option-schema-type-tie.ts).
 * - The keys of a shape are the option's known keys (the "unknown option" message lists them, in
 *   that order) and the order in which its values are checked (unless `order` says otherwise).
 * - A rule knows where it is (`at.path`, e.g. `"scrape.timeoutMs"`) and in whose words to speak
 *   (`at.messages`: the module's `VezaMetricsModule: ...`, or the cluster's `VezaMetrics cluster: ...`),
 *   so one rule serves `forRoot`'s `scrape` and `serveClusterMetrics`' `scrape` alike.
 * - One rule per kind of value shared by every schema: label names (`labelRecord`, `isLabelName`),
 *   bucket lists (`bucketList`), integers in a range, booleans, enumerations, records.
 * - The decorators' options are read with the same kit (src/instrumentation/decorator-options.ts: one
 *   schema per decorator options interface, `at.messages` speaking as `@Timed(...) on "Class#method"`).
 *
 * Why a kit of its own rather than a schema library (zod, valibot): docs/design-notes.md, "Options".
 */
import { invalidLabelName, invalidOption, unknownOption } from '../veza-metrics.messages';
import { checkKeys, isBucketList, isLabelName, isPlainObject } from './option-checks';

/** The words a schema speaks: the module's messages, or the cluster helpers' messages. */
export interface OptionMessages {
  readonly invalid: (option: string, expected: string, got: unknown) => string;
  readonly unknown: (key: string, known: readonly string[]) => string;
  readonly labelName: (option: string, name: string) => string;
}

/** `VezaMetricsModule: option "x" must be ...`. */
export const MODULE_MESSAGES: OptionMessages = {
  invalid: invalidOption,
  unknown: unknownOption,
  labelName: invalidLabelName,
};

/** Where a value sits: its option path (`""` for the options object itself) and the words to use. */
export interface At {
  readonly path: string;
  readonly messages: OptionMessages;
}

/** The place of `key` inside `at`. */
export const child = (at: At, key: string): At => ({
  path: at.path ? `${at.path}.${key}` : key,
  messages: at.messages,
});

/** Throws "option `<path>` must be `<expected>`, got ...": the option and how to fix it. */
export function fail(at: At, expected: string, got: unknown): never {
  throw new Error(at.messages.invalid(at.path || 'options', expected, got));
}

/** What a rule is given besides the value: the values of its object resolved before it. */
export type Siblings = Readonly<Record<string, unknown>>;

/** Checks one option's value and returns it resolved. */
export interface Rule<T> {
  resolve(value: unknown, at: At, siblings: Siblings): T;
  /** An object's rules by key (a walk over a schema reads them: tests, docs). */
  readonly shape?: Readonly<Record<string, Rule<unknown>>>;
  /** A record's rule for each of its values. */
  readonly entries?: Rule<unknown>;
}

/** A rule of an object: `shape` holds its keys' rules. */
export interface ObjectRule<S extends Readonly<Record<string, Rule<unknown>>>, R> extends Rule<R> {
  readonly shape: S;
}

/** The value a rule resolves to. */
export type Resolved<S> = { -readonly [K in keyof S]: S[K] extends Rule<infer T> ? T : never };

/** One rule for every key of `I` (optional ones included), and no other key. */
export type Shape<I> = { readonly [K in keyof Required<I>]: Rule<unknown> };

/**
 * Ties a shape to its interface: `shapeOf<ScrapeOptions>()({ ... })` fails to compile when a key of
 * `ScrapeOptions` has no rule, or a rule has no key in `ScrapeOptions`.
 */
export const shapeOf =
  <I>() =>
  <S extends Shape<I>>(shape: S & Record<Exclude<keyof S, keyof I>, never>): S =>
    shape;

/** A rule written as a function. */
export const rule = <T>(resolve: (value: unknown, at: At, siblings: Siblings) => T): Rule<T> => ({ resolve });

/** `null` counts as not given (options that were read with `??`). */
export const nullAsUnset = <T>(inner: Rule<T>): Rule<T> => ({
  ...inner,
  resolve: (value, at, siblings) => inner.resolve(value ?? undefined, at, siblings),
});

/** Not given: `undefined`; otherwise `inner` decides. */
export const optional = <T>(inner: Rule<T>): Rule<T | undefined> => ({
  ...inner,
  resolve: (value, at, siblings) => (value === undefined ? undefined : inner.resolve(value, at, siblings)),
});

/** Not given: `inner` resolves `fallback` instead (e.g. `{}`, so that its own defaults apply). */
export const defaulted = <T>(inner: Rule<T>, fallback: unknown): Rule<T> => ({
  ...inner,
  resolve: (value, at, siblings) => inner.resolve(value === undefined ? fallback : value, at, siblings),
});

/** A value `accept` takes as it is; `fallback` when not given (`undefined`: required). */
export function check<T>(
  accept: (value: unknown, siblings: Siblings) => boolean,
  expected: string,
  fallback?: T,
): Rule<T> {
  return rule((value, at, siblings) => {
    if (value === undefined && fallback !== undefined) return fallback;
    if (!accept(value, siblings)) fail(at, expected, value);
    return value as T;
  });
}

export const boolean = (fallback: boolean): Rule<boolean> =>
  check<boolean>((v) => typeof v === 'boolean', 'a boolean', fallback);

/** One of `allowed`. */
export const oneOf = <T>(allowed: readonly T[], expected: string, fallback?: T): Rule<T> =>
  check<T>((v) => allowed.includes(v as T), expected, fallback);

type Bound = number | ((siblings: Siblings) => number);
const bound = (b: Bound, siblings: Siblings): number => (typeof b === 'function' ? b(siblings) : b);

/**
 * An integer from `min` to `max` ("an integer from 1 to 64" unless `expected` says it otherwise);
 * `max` and `fallback` may depend on the values resolved before it.
 */
export function integer(min: number, max: Bound, fallback?: Bound, expected?: string): Rule<number> {
  return rule((value, at, siblings) => {
    if (value === undefined && fallback !== undefined) return bound(fallback, siblings);
    const top = bound(max, siblings);
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > top)
      fail(at, expected ?? `an integer from ${min} to ${top}`, value);
    return value;
  });
}

/** setTimeout's limit: longer delays fire at once. */
export const MAX_DELAY_MS = 2_147_483_647;

/** A delay for `setTimeout`, in whole milliseconds. */
export const delay = (fallback?: number): Rule<number> =>
  integer(1, MAX_DELAY_MS, fallback, 'a positive whole number of milliseconds');

/** The one bucket rule: a non-empty array of finite numbers in strictly increasing order. */
export const BUCKETS_EXPECTED = 'a non-empty array of finite numbers in strictly increasing order';
export const bucketList: Rule<readonly number[]> = rule((value, at) => {
  if (!isBucketList(value)) fail(at, BUCKETS_EXPECTED, value);
  return Object.freeze([...value]);
});

interface ObjectSettings<S, R> {
  /** The order in which the values are checked, when it is not the shape's. */
  readonly order?: readonly (keyof S & string)[];
  /** Turns the resolved values into the result (checks between keys, derived values). */
  readonly finish?: (resolved: Resolved<S>, at: At, given: Readonly<Record<string, unknown>>) => R;
}

/**
 * A plain object (any realm) with only the shape's keys, each checked by its rule; `notObject` is
 * what the message says it must be otherwise (e.g. `"{ port, host? }"`).
 */
export function object<S extends Readonly<Record<string, Rule<unknown>>>, R = Resolved<S>>(
  shape: S,
  notObject: string,
  settings: ObjectSettings<S, R> = {},
): ObjectRule<S, R> {
  const known = Object.keys(shape);
  const order = settings.order ?? known;
  return {
    shape,
    resolve(value, at) {
      if (!isPlainObject(value)) fail(at, notObject, value);
      checkKeys(at.path, value, known, at.messages.unknown);
      const resolved: Record<string, unknown> = {};
      for (const key of order) resolved[key] = shape[key].resolve(value[key], child(at, key), resolved);
      const inOrder = Object.fromEntries(known.map((k) => [k, resolved[k]])) as Resolved<S>;
      return settings.finish ? settings.finish(inOrder, at, value) : (inOrder as R);
    },
  };
}

/**
 * `true` (or not given), `false`, or the object `inner` checks: `true` is `inner`'s defaults, `false`
 * the same with `enabled: false`.
 */
export function toggle<T extends { enabled: boolean }>(
  inner: ObjectRule<Readonly<Record<string, Rule<unknown>>>, T>,
  expected: string,
): Rule<T> {
  return {
    shape: inner.shape,
    resolve(value, at, siblings) {
      if (value === undefined || value === true) return inner.resolve({}, at, siblings);
      if (value === false) return { ...inner.resolve({}, at, siblings), enabled: false };
      if (!isPlainObject(value)) fail(at, expected, value);
      return inner.resolve(value, at, siblings);
    },
  };
}

/**
 * An object of names to values (such as `defaultLabels`): `checkKey` says what is wrong with a name
 * (it throws), `entries` checks each value at `<path>.<name>`.
 */
export function record<T>(
  entries: Rule<T>,
  notObject: string,
  checkKey: (name: string, at: At, value: unknown) => void = () => {},
): Rule<Record<string, T>> {
  return {
    entries,
    resolve(value, at) {
      if (!isPlainObject(value)) fail(at, notObject, value);
      const out: Record<string, T> = {};
      for (const [name, entry] of Object.entries(value)) {
        checkKey(name, at, entry);
        out[name] = entries.resolve(entry, child(at, name), out);
      }
      return out;
    },
  };
}

/** The one label-name rule for records keyed by label names (`defaultLabels`, Pushgateway groupings). */
export const labelRecord = (
  notObject = 'an object of label names to string values',
): Rule<Record<string, string>> =>
  record(
    check<string>((v) => typeof v === 'string', 'a string'),
    notObject,
    (name, at) => {
      if (!isLabelName(name)) throw new Error(at.messages.labelName(at.path, name));
    },
  );
