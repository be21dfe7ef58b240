/**
 * The decorators' options on the one option kit (src/options/option-schema.ts): a schema per
 * decorator options interface, tied to it by `shapeOf<I>()`, read at decoration time in the words of
 * the decorator and its `Class#method` (`invalidDecoratorOption`, `unknownDecoratorOption`).
 */
import {
  check,
  child,
  object,
  optional,
  type At,
  type ObjectRule,
  type OptionMessages,
  type Resolved,
  type Rule,
} from '../options/option-schema';
import { invalidDecoratorOption, unknownDecoratorOption } from '../veza-metrics.messages';

/** A decorator's words: its name and where it was put, besides the kit's messages. */
export interface DecoratorMessages extends OptionMessages {
  readonly decorator: string;
  readonly place: string;
}

/** The options object of `decorator` on `place` (`Class#method`). */
export function decoratorAt(decorator: string, place: string): At {
  const messages: DecoratorMessages = {
    decorator,
    place,
    invalid: (option, expected, got) => invalidDecoratorOption(decorator, place, option, expected, got),
    unknown: (key, known) => unknownDecoratorOption(decorator, place, key, known),
    labelName: (option, name) =>
      invalidDecoratorOption(decorator, place, option, 'a Prometheus label name', name),
  };
  return { path: '', messages };
}

/** The decorator and place an `At` of {@link decoratorAt} speaks for (messages of their own). */
export function decoratorOf(at: At): DecoratorMessages {
  return at.messages as DecoratorMessages;
}

/** A decorator's options object: not given is `{}`; otherwise a plain object with the shape's keys. */
export function decoratorOptions<S extends Readonly<Record<string, Rule<unknown>>>, R = Resolved<S>>(
  shape: S,
  settings?: Parameters<typeof object<S, R>>[2],
): ObjectRule<S, R> {
  const inner = object<S, R>(shape, 'an object', settings);
  return {
    shape,
    resolve: (value, at, siblings) => inner.resolve(value === undefined ? {} : value, at, siblings),
  };
}

export const nonEmptyString: Rule<string> = check<string>(
  (v) => typeof v === 'string' && v !== '',
  'a non-empty string',
);

/** A constant string, or a function that returns one. */
export const stringOrFunction = <F>(): Rule<string | F> =>
  check<string | F>(
    (v) => typeof v === 'function' || (typeof v === 'string' && v !== ''),
    'a non-empty string',
  );

export const optionalFunction = <F>(): Rule<F | undefined> =>
  optional(check<F>((v) => typeof v === 'function', 'a function'));

export const optionalNumberAtLeast = (min: number): Rule<number | undefined> =>
  optional(
    check<number>(
      (v) => typeof v === 'number' && Number.isFinite(v) && v >= min,
      `a finite number >= ${min}`,
    ),
  );

/** One of `allowed`, said `"a" or "b"`. */
export const quotedOneOf = <T extends string>(allowed: readonly T[], fallback?: T): Rule<T> =>
  check<T>((v) => allowed.includes(v as T), allowed.map((a) => `"${a}"`).join(' or '), fallback);

/** A decorator's positional argument `name` (e.g. `subsystem`), checked by `rule` in the decorator's words. */
export const argument = <T>(at: At, name: string, rule: Rule<T>, value: unknown): T =>
  rule.resolve(value, child(at, name), {});
