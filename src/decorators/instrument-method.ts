import type { InstrumentSpec } from '../instrumentation/instrument';
import { addInstrumentSpec, siteOf } from '../instrumentation/trampoline';
import {
  decoratorAppliedTwice,
  decoratorOnNonMethod,
  decoratorOnStaticMethod,
  invalidDecoratorOption,
  standardDecoratorsUnsupported,
  unknownDecoratorOption,
} from '../veza-metrics.messages';

/** Decoration-time checks of a decorator's options: each failure names the decorator and `Class#method`. */
export class OptionCheck {
  constructor(
    readonly decorator: string,
    readonly place: string,
  ) {}

  fail(message: string): never {
    throw new Error(message);
  }

  invalid(option: string, expected: string, got: unknown): never {
    throw new Error(invalidDecoratorOption(this.decorator, this.place, option, expected, got));
  }

  /** `options` is undefined or a plain object with only `known` keys; returns it (or `{}`). */
  options<T extends object>(options: T | undefined, known: readonly string[]): T {
    if (options === undefined) return {} as T;
    if (typeof options !== 'object' || options === null || Array.isArray(options))
      this.invalid('options', 'an object', options);
    for (const key of Object.keys(options)) {
      if (!known.includes(key))
        throw new Error(unknownDecoratorOption(this.decorator, this.place, key, known));
    }
    return options;
  }

  string(option: string, value: unknown): string {
    if (typeof value !== 'string' || value === '') this.invalid(option, 'a non-empty string', value);
    return value;
  }

  /** A constant string, or a function that returns one. */
  stringOrFunction<F>(option: string, value: unknown): string | F {
    if (typeof value === 'function') return value as F;
    return this.string(option, value);
  }

  optionalFunction<F>(option: string, value: unknown): F | undefined {
    if (value !== undefined && typeof value !== 'function') this.invalid(option, 'a function', value);
    return value as F | undefined;
  }

  optionalNumber(option: string, value: unknown, min = 0): number | undefined {
    if (value !== undefined && (typeof value !== 'number' || !Number.isFinite(value) || value < min)) {
      this.invalid(option, `a finite number >= ${min}`, value);
    }
    return value;
  }

  oneOf<T extends string>(option: string, value: unknown, allowed: readonly T[]): T {
    if (!allowed.includes(value as T)) this.invalid(option, allowed.map((a) => `"${a}"`).join(' or '), value);
    return value as T;
  }
}

/** `"AuthService#login"`, or the class alone when there is no member. */
export function placeOf(target: unknown, key: unknown): string {
  const cls: unknown =
    typeof target === 'function' ? target : (target as { constructor?: unknown } | null)?.constructor;
  const name = (typeof cls === 'function' && cls.name) || 'anonymous class';
  if (key === undefined) return name;
  return `${name}#${typeof key === 'symbol' ? key.toString() : typeof key === 'string' || typeof key === 'number' ? String(key) : typeof key}`;
}

/**
 * The one factory of the method decorators: checks where the decorator was put, lets `define`
 * check the options and describe what to record, and installs the trampoline.
 */
export function instrumentMethod(
  decorator: string,
  define: (check: OptionCheck) => InstrumentSpec,
): MethodDecorator {
  return (target: object, key: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor => {
    if (typeof key === 'object' && key !== null && 'kind' in key)
      throw new Error(standardDecoratorsUnsupported(decorator));
    const place = placeOf(target, key);
    if (typeof target === 'function' && key !== undefined)
      throw new Error(decoratorOnStaticMethod(decorator, place));
    if (
      key === undefined ||
      typeof descriptor !== 'object' ||
      descriptor === null ||
      typeof descriptor.value !== 'function'
    ) {
      throw new Error(decoratorOnNonMethod(decorator, place));
    }
    const spec = define(new OptionCheck(decorator, place));
    if (siteOf(descriptor.value)?.specs.some((s) => s.identity === spec.identity))
      throw new Error(decoratorAppliedTwice(decorator, place));
    addInstrumentSpec(target, key, descriptor, spec, place);
    return descriptor;
  };
}
