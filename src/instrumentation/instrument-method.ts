import type { InstrumentSpec } from './instrument';
import { addInstrumentSpec, siteOf } from './trampoline';
import {
  decoratorAppliedTwice,
  decoratorOnNonMethod,
  decoratorOnStaticMethod,
  standardDecoratorsUnsupported,
} from '../veza-metrics.messages';
import type { At } from '../options/option-schema';
import { decoratorAt } from './decorator-options';

/** `"AuthService#login"`, or the class alone when there is no member. */
export function placeOf(target: unknown, key: unknown): string {
  const cls: unknown =
    typeof target === 'function' ? target : (target as { constructor?: unknown } | null)?.constructor;
  const name = (typeof cls === 'function' && cls.name) || 'anonymous class';
  if (key === undefined) return name;
  return `${name}#${typeof key === 'symbol' ? key.toString() : typeof key === 'string' || typeof key === 'number' ? String(key) : typeof key}`;
}

/**
 * Checks that `decorator` was put on an instance method with the legacy (experimental) decorators,
 * and answers its `"Class#method"`; throws a start-up error naming the place otherwise.
 */
export function methodPlace(
  decorator: string,
  target: object,
  key: unknown,
  descriptor: PropertyDescriptor | undefined,
): string {
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
  return place;
}

/**
 * The one factory of the method decorators: checks where the decorator was put, lets `define`
 * check the options (with the schemas of decorator-options.ts, at `at`: the words of the decorator and
 * its `Class#method`) and describe what to record, and installs the trampoline.
 */
export function instrumentMethod(decorator: string, define: (at: At) => InstrumentSpec): MethodDecorator {
  return (target: object, key: string | symbol, descriptor: PropertyDescriptor): PropertyDescriptor => {
    const place = methodPlace(decorator, target, key, descriptor);
    const spec = define(decoratorAt(decorator, place));
    if (siteOf(descriptor.value)?.specs.some((s) => s.identity === spec.identity))
      throw new Error(decoratorAppliedTwice(decorator, place));
    addInstrumentSpec(target, key, descriptor, spec, place);
    return descriptor;
  };
}
