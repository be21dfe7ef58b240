import 'reflect-metadata';
import type { InstrumentSpec } from './instrument';
import { clock, MethodMeter } from './method-meter';

/**
 * A decorated method: its original function, what its decorators record, and the key under which an
 * instance created by a Nest application keeps its meter.
 */
export interface Site {
  /** `"AuthService#login"`. */
  readonly place: string;
  readonly key: symbol;
  readonly original: (...args: unknown[]) => unknown;
  readonly specs: InstrumentSpec[];
  /** The function now on the prototype. */
  trampoline: (...args: unknown[]) => unknown;
}

type Bound = Record<symbol, MethodMeter | undefined>;

/**
 * The meter bound to `self`, if any. `self` is the caller's object: reading from it may run a
 * Proxy trap that throws or answers anything for any key, so a throw or a value that is not a
 * meter means none (the call then runs exactly as undecorated).
 */
function meterOf(self: unknown, key: symbol): MethodMeter | undefined {
  if (self === null || self === undefined) return undefined;
  try {
    const meter = (self as Bound)[key];
    return meter === undefined || meter instanceof MethodMeter ? meter : undefined;
  } catch {
    return undefined;
  }
}

const siteOfTrampoline = new WeakMap<object, Site>();
const sitesOfPrototype = new WeakMap<object, Site[]>();

/** The decorated methods declared on `prototype` itself (not inherited ones). */
export function sitesOf(prototype: object): readonly Site[] {
  return sitesOfPrototype.get(prototype) ?? [];
}

/** The site of a trampoline, if `fn` is one. */
export function siteOf(fn: unknown): Site | undefined {
  return typeof fn === 'function' ? siteOfTrampoline.get(fn) : undefined;
}

/**
 * Puts `spec` on the method of `descriptor`. The first decorator replaces the method, once, with a
 * trampoline; the next ones only add their spec. A trampoline that has to read the arguments is a
 * slightly slower function than one that does not, so it is swapped for that variant the first time
 * a spec needs them. Every reflect-metadata key of the function it replaces, its `name` and its
 * `length` are carried over, so decorators below and above it keep seeing their metadata.
 */
export function addInstrumentSpec(
  prototype: object,
  key: string | symbol,
  descriptor: PropertyDescriptor,
  spec: InstrumentSpec,
  place: string,
): Site {
  const current = descriptor.value as (...args: unknown[]) => unknown;
  let site = siteOfTrampoline.get(current);
  if (site === undefined || site.trampoline !== current) {
    site = {
      place,
      key: Symbol(`veza-metrics ${place}`),
      original: current,
      specs: [spec],
      trampoline: current,
    };
    site.trampoline = trampolineFor(site, spec.needsArgs, current);
    const list = sitesOfPrototype.get(prototype);
    if (list) list.push(site);
    else sitesOfPrototype.set(prototype, [site]);
  } else {
    const readArgs = site.specs.some((s) => s.needsArgs);
    site.specs.push(spec);
    if (spec.needsArgs && !readArgs) site.trampoline = trampolineFor(site, true, current);
  }
  descriptor.value = site.trampoline;
  return site;
}

function trampolineFor(
  site: Site,
  readArgs: boolean,
  previous: (...args: unknown[]) => unknown,
): (...args: unknown[]) => unknown {
  const { original, key } = site;
  // Method shorthand: like the class method it replaces, the trampoline is not a constructor. It reads
  // `arguments` rather than rest parameters: `original.apply(this, arguments)` allocates nothing, and
  // the variant that does not hand them on never materialises them (about 10 ns per call).
  /* eslint-disable prefer-rest-params, @typescript-eslint/unbound-method */
  const { trampoline } = readArgs
    ? {
        trampoline(this: unknown): unknown {
          const meter = meterOf(this, key);
          if (meter === undefined) return original.apply(this, arguments as unknown as unknown[]);
          const t0 = meter.timed ? clock() : 0;
          let result: unknown;
          try {
            result = original.apply(this, arguments as unknown as unknown[]);
          } catch (error) {
            meter.thrown(error, t0, arguments);
            throw error;
          }
          return meter.returned(result, t0, arguments);
        },
      }
    : {
        trampoline(this: unknown): unknown {
          const meter = meterOf(this, key);
          if (meter === undefined) return original.apply(this, arguments as unknown as unknown[]);
          const t0 = meter.timed ? clock() : 0;
          let result: unknown;
          try {
            result = original.apply(this, arguments as unknown as unknown[]);
          } catch (error) {
            meter.thrown(error, t0, undefined);
            throw error;
          }
          return meter.returned(result, t0, undefined);
        },
      };
  /* eslint-enable prefer-rest-params, @typescript-eslint/unbound-method */
  copyIdentity(previous, trampoline);
  siteOfTrampoline.set(trampoline, site);
  return trampoline;
}

/** Every reflect-metadata key and own property of `from` (its name and length included), onto `to`. */
function copyIdentity(from: object, to: object): void {
  for (const key of Reflect.getOwnMetadataKeys(from))
    Reflect.defineMetadata(key, Reflect.getOwnMetadata(key, from), to);
  for (const key of Reflect.ownKeys(from)) {
    if (key === 'prototype' || key === 'arguments' || key === 'caller') continue;
    const descriptor = Object.getOwnPropertyDescriptor(from, key);
    if (descriptor) Object.defineProperty(to, key, { ...descriptor, configurable: true });
  }
}

/** Binds `meter` to `instance` for `site`: from now on, calls on `instance` are recorded. */
export function bindMeter(instance: object, site: Site, meter: MethodMeter): void {
  Object.defineProperty(instance, site.key, {
    value: meter,
    configurable: true,
    enumerable: false,
    writable: true,
  });
}

/** Unbinds `instance` (if `meter` is still the one bound): its calls are no longer recorded. */
export function unbindMeter(instance: object, site: Site, meter: MethodMeter): void {
  if (Object.prototype.hasOwnProperty.call(instance, site.key) && (instance as Bound)[site.key] === meter) {
    delete (instance as Bound)[site.key];
  }
}
