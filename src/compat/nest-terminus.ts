/*
 * What the health recorder assumes of @nestjs/terminus (contract test:
 * test/unit/terminus-contract.spec.ts, naming the installed version; the matrix's Nest 10 and
 * 11 jest rows run it against their fixtures' terminus 10 and 11). Verified on 12.1.0, and
 * on 10.3.0 (Nest 10.4.22) and 11.1.1 (Nest 11.2.12) with VEZA_PEERS_DIR (the spec's header;
 * docs/health.md#terminus-versions lists the differences).
 *
 * TM1 `HealthCheckService` (exported by the package's entry point) is a singleton provider of
 *    `TerminusModule`, one instance per TerminusModule instance, and its callers call `check` as a
 *    property of the instance at each call (`this.health.check([...])`), so an own property `check`
 *    on the instance takes every call. Fallback: a service found no other way (a subclass registered
 *    under a token of its own is still an instance of the class) is not recorded.
 * TM2 `check(indicators)` calls each function of the `indicators` array once, with no argument and
 *    no `this`, all of them before awaiting any (`Promise.allSettled(indicators.map(...))`), and
 *    reads nothing from the array but its elements; its result (or the `ServiceUnavailableException`
 *    it throws, whose response is that result) is built only from what each call resolved to or
 *    threw. So handing it an array of wrappers that return, resolve to and throw exactly what the
 *    originals did gives the caller exactly what it gets without them. 12.x also takes
 *    `HealthCheckAttempt` objects (thenables) in the array, awaited once each: a wrapper that awaits
 *    one the same way (one `then` call) stands for it. Fallback: none needed at run time.
 * TM3 An indicator's result is `{ [key]: { status, ... } }`, one or more keys (`Object.entries`),
 *    `status` `'up'`, `'down'`, or (12.x) `'degraded'`; 11.x+ keep only those three statuses.
 * TM4 10.x and 11.x (deprecated there, gone in 12.x) take a rejection with
 *    `isHealthCheckError === true` (`HealthCheckError`) as a failed indicator, its keys and details in
 *    `causes` (`{ [key]: { status: 'down', ... } }`); any other rejection (every one in 12.x) fails
 *    the whole check. Fallback: a rejection without such `causes` names no key: not recorded.
 * TM5 `HealthCheckAttempt` is exported by 12.x only (undefined in 10.x and 11.x: nothing else but
 *    functions is an indicator there).
 */
import type { ModulesContainer } from '@nestjs/core';
import { isSingleton } from './nest-core';
import { appUsesPeer, loadOptionalPeer } from './optional-peers';

/** The part of a terminus `HealthCheckService` the recorder uses (TM1). */
export interface HealthCheckServiceLike {
  check(indicators: unknown, ...rest: unknown[]): unknown;
}

interface Loaded {
  readonly HealthCheckService: abstract new (...args: never[]) => unknown;
  readonly HealthCheckAttempt: (abstract new (...args: never[]) => unknown) | undefined;
}

let loaded: Loaded | null | undefined;

/**
 * @nestjs/terminus, or null when it is not installed or cannot load, and null without loading it
 * when `modules` (this application's container) shows no `TerminusModule` (P4 of optional-peers.ts).
 */
export function loadTerminus(modules?: ModulesContainer): Loaded | null {
  if (modules !== undefined && !appUsesPeer(modules, 'terminus')) return null;
  if (loaded !== undefined) return loaded;
  try {
    const lib = loadOptionalPeer('@nestjs/terminus') as Partial<Loaded> | undefined;
    loaded =
      lib && typeof lib.HealthCheckService === 'function'
        ? {
            HealthCheckService: lib.HealthCheckService,
            HealthCheckAttempt:
              typeof lib.HealthCheckAttempt === 'function' ? lib.HealthCheckAttempt : undefined,
          }
        : null;
  } catch {
    loaded = null;
  }
  return loaded;
}

/** Every `HealthCheckService` instance (TM1) among the singletons of the container, once each. */
export function healthCheckServicesOf(modules: ModulesContainer, lib: Loaded): HealthCheckServiceLike[] {
  const found = new Set<HealthCheckServiceLike>();
  for (const module of modules.values()) {
    for (const wrapper of module.providers.values()) {
      if (!isSingleton(wrapper)) continue;
      const instance: unknown = wrapper.instance;
      if (instance instanceof lib.HealthCheckService) found.add(instance as HealthCheckServiceLike);
    }
  }
  return [...found];
}

/** Services whose `check` is already wrapped (by this or another application's recorder of the same instance). */
const wrapped = new WeakSet<object>();

/**
 * Puts an own `check` on `service` (TM1) that hands the original the indicators as `map` returns
 * them (TM2), with the same `this` and the other arguments as given. When `map` throws, the original
 * gets the indicators as given. Once per service; false when it was already done or `check` is no
 * function.
 */
export function wrapCheck(service: HealthCheckServiceLike, map: (indicators: unknown) => unknown): boolean {
  if (wrapped.has(service)) return false;
  const original: unknown = Reflect.get(service, 'check');
  if (typeof original !== 'function') return false;
  function check(this: unknown, indicators: unknown, ...rest: unknown[]): unknown {
    let given: unknown;
    try {
      given = map(indicators);
    } catch {
      given = indicators;
    }
    return Reflect.apply(original as (...a: unknown[]) => unknown, this, [given, ...rest]);
  }
  Object.defineProperty(service, 'check', {
    value: check,
    writable: true,
    configurable: true,
    enumerable: false,
  });
  wrapped.add(service);
  return true;
}

/** Whether `value` is a terminus 12 `HealthCheckAttempt` (TM2, TM5): an indicator that is not a function. */
export function isHealthCheckAttempt(value: unknown, lib: Loaded): boolean {
  return lib.HealthCheckAttempt !== undefined && value instanceof lib.HealthCheckAttempt;
}

/**
 * The `causes` of a terminus `HealthCheckError` (TM4): `{ [key]: { status, ... } }`, or undefined when
 * `error` is not one (or cannot be read).
 */
export function causesOf(error: unknown): object | undefined {
  try {
    if (typeof error !== 'object' || error === null) return undefined;
    const e = error as { isHealthCheckError?: unknown; causes?: unknown };
    if (e.isHealthCheckError !== true) return undefined;
    const causes = e.causes;
    return typeof causes === 'object' && causes !== null ? causes : undefined;
  } catch {
    return undefined;
  }
}
