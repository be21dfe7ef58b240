/*
 * What this library assumes of @nestjs/throttler (an optional peer: never imported, so that an
 * application without it loads nothing of it). Contract test: test/unit/compat-nest-throttler.spec.ts,
 * which names the assumption and the installed version when one breaks. Verified on
 * @nestjs/throttler 6.7.1.
 *
 * T1 The guard's rejection is a `ThrottlerException` (an `HttpException` of status 429), or a
 *    subclass, whose class is named `ThrottlerException`. Why: tell the throttler's 429s from an
 *    application's own, without loading the package. Fallback: a 429 with no T2 header and no such
 *    class in its chain is not counted as a rate-limit hit (it is still an HTTP 429).
 * T2 When it blocks a request (and `setHeaders` is not false), the guard sets `Retry-After` for the
 *    throttler named `default` and `Retry-After-<name>` for any other. Why: name the `limit_type`
 *    of the 429 after the throttler that refused it. Fallback: no such header, `limit_type` is
 *    `default`.
 * T3 The module's options are the provider `'THROTTLER:MODULE_OPTIONS'` (`THROTTLER_OPTIONS`): an
 *    array of `{ name, ttl, limit }` or `{ throttlers: [...] }`. Why: header names arrive in lower
 *    case; the options give each name back its case. Fallback: no such provider, names are kept as
 *    the header gives them (lower case).
 */

/** The `limit_type` of a 429 whose throttler cannot be named: the throttler's default name (T2). */
export const DEFAULT_THROTTLER_NAME = 'default';

/** The provider of the throttler module's options (T3). */
export const THROTTLER_OPTIONS_TOKEN = 'THROTTLER:MODULE_OPTIONS';

const RETRY_AFTER = 'retry-after';

/** True when `exception` is a `ThrottlerException` (or a subclass), found by class name (T1). */
export function isThrottlerException(exception: unknown): boolean {
  let proto: unknown =
    typeof exception === 'object' && exception !== null ? Object.getPrototypeOf(exception) : null;
  while (proto && proto !== Object.prototype) {
    if ((proto as { constructor?: { name?: string } }).constructor?.name === 'ThrottlerException')
      return true;
    proto = Object.getPrototypeOf(proto);
  }
  return false;
}

/**
 * The name of the throttler that refused a request, from the headers the guard set (T2). Header
 * names arrive in lower case; `names` (T3) gives the name back its case. `undefined` when no such
 * header was set.
 */
export function throttlerOfHeaders(
  headerNames: readonly string[],
  names: ReadonlyMap<string, string>,
): string | undefined {
  for (const header of headerNames) {
    const lower = header.toLowerCase();
    if (lower === RETRY_AFTER) return DEFAULT_THROTTLER_NAME;
    if (lower.startsWith(`${RETRY_AFTER}-`)) {
      const name = lower.slice(RETRY_AFTER.length + 1);
      return names.get(name) ?? name;
    }
  }
  return undefined;
}

/** The throttler names of the module's options (T3), keyed by their lower-case form. */
export function throttlerNamesOf(options: unknown): Map<string, string> {
  const list = Array.isArray(options)
    ? options
    : (options as { throttlers?: unknown } | undefined)?.throttlers;
  const names = new Map<string, string>();
  if (!Array.isArray(list)) return names;
  for (const t of list) {
    const name = (t as { name?: unknown })?.name;
    if (typeof name === 'string') names.set(name.toLowerCase(), name);
  }
  return names;
}
