import { installedVersion } from './installed-version';

/**
 * What this library assumes of `@opentelemetry/api` (an optional peer) beyond its documented API.
 * Verified against @opentelemetry/api 1.9.1 with @opentelemetry/context-async-hooks 2.12.0 (both
 * devDependencies here); each assumption has a contract test in
 * test/unit/compat-opentelemetry-api.spec.ts that names it and the installed version.
 *
 * O1. The API of major M keeps what the application registered in one object shared by every copy
 *     of that major in the process, `globalThis[Symbol.for('opentelemetry.js.api.M')]`, and its
 *     `context` field is set by `context.setGlobalContextManager()` and cleared by
 *     `context.disable()`. Why: until an SDK registers a context manager the exemplar reader skips
 *     the span lookup with one property read (every request would otherwise call into the API).
 * O2. Without a registered context manager no span is active: `trace.getActiveSpan()` is
 *     `undefined` even inside `context.with(trace.setSpan(...))`. Why: skipping the lookup (O1)
 *     then returns what the API would have returned.
 * O3. The package's version is in its `package.json` (hidden by its `exports`, found by walking up
 *     from its entry point past the nameless `package.json` of its builds). Why: M of O1.
 * O4. That object, once created (by the first registration), stays: later registrations write into
 *     it and `disable()` deletes their fields from it, neither replaces it. Why: the check keeps the
 *     object and reads its `context` field, instead of a symbol-keyed read of `globalThis` per request.
 *
 * Fallback: a version it cannot read (O3): no key, and every read calls into the API (exact, one
 * call more per request). If O4 broke (the object replaced), the kept object would miss a context
 * manager registered into the new one: the O4 contract test fails first. Nothing here throws.
 */

/** The API's name, as loaded and resolved. */
export const OTEL_API = '@opentelemetry/api';

/** O1: the key of the registrations of the API of `version`'s major; `undefined` for a version it cannot read. */
export function registrationsKey(version: unknown): symbol | undefined {
  const major = typeof version === 'string' ? /^(\d+)\./.exec(version)?.[1] : undefined;
  return major === undefined ? undefined : Symbol.for(`opentelemetry.js.api.${major}`);
}

/** O3: the installed API's version; `undefined` when it cannot be read. */
export function otelApiVersion(resolve: (id: string) => string = require.resolve): string | undefined {
  return installedVersion(OTEL_API, resolve);
}

/** Calls between two looks for the registrations object while it does not exist yet (O4). */
export const REGISTRATIONS_RECHECK_CALLS = 1024;

/**
 * O1 + O2 + O4: a check that a context manager is registered with the installed API (`false` means
 * no span can be active); `undefined` when the version cannot be read (O3), and then the caller asks
 * the API every time.
 *
 * Once the registrations object exists it is kept (O4) and each call reads one field of it. Until
 * then (no OpenTelemetry SDK started: the common case of an app that only has the API installed
 * through another package) the check looks on `globalThis` once every
 * {@link REGISTRATIONS_RECHECK_CALLS} calls, not on every request: a symbol-keyed read of the
 * global object measured 0.1 to 0.4 µs per request in a real server's CPU profile
 * (docs/benchmarks.md). An SDK started after the application began serving is seen within that
 * many requests; those before it get no exemplar (an SDK is normally started before the app).
 *
 * @param resolve - the file a module id resolves to (`require.resolve`); replaced in tests.
 */
export function contextManagerCheck(
  resolve: (id: string) => string = require.resolve,
): (() => boolean) | undefined {
  const key = registrationsKey(otelApiVersion(resolve));
  if (key === undefined) return undefined;
  const global = globalThis as unknown as Record<symbol, { context?: unknown } | undefined>;
  let registrations = global[key];
  let untilLook = REGISTRATIONS_RECHECK_CALLS;
  return () => {
    if (registrations === undefined) {
      if (--untilLook > 0) return false;
      untilLook = REGISTRATIONS_RECHECK_CALLS;
      registrations = global[key];
      if (registrations === undefined) return false;
    }
    return registrations.context !== undefined;
  };
}
