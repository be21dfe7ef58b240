/**
 * The `limit_type` of a 429 whose limiter cannot be named (no `Retry-After` header): `@nestjs/throttler`'s default name.
 *
 * @example
 * ```ts
 * expect(await getMetricValue(app, VezaMetric.RateLimitHits, { endpoint: '/login', limit_type: DEFAULT_LIMIT_TYPE })).toBe(1);
 * ```
 */
export const DEFAULT_LIMIT_TYPE = 'default';

const RETRY_AFTER = 'retry-after';

/** True when `exception` is a `ThrottlerException` (or a subclass), found by class name: the throttler is an optional peer. */
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
 * The name of the throttler that refused a request, read from the headers `@nestjs/throttler` sets
 * when it blocks one: `Retry-After` for the throttler named `default`, `Retry-After-<name>` for the
 * others. Header names arrive in lower case; `names` (the throttlers the application configured)
 * gives the name back its case. `undefined` when no such header was set.
 */
export function limitTypeOf(
  headerNames: readonly string[],
  names: ReadonlyMap<string, string>,
): string | undefined {
  for (const header of headerNames) {
    const lower = header.toLowerCase();
    if (lower === RETRY_AFTER) return DEFAULT_LIMIT_TYPE;
    if (lower.startsWith(`${RETRY_AFTER}-`)) {
      const name = lower.slice(RETRY_AFTER.length + 1);
      return names.get(name) ?? name;
    }
  }
  return undefined;
}

/**
 * The throttler names of `@nestjs/throttler`'s module options (`[{ name, ttl, limit }]` or
 * `{ throttlers: [...] }`), keyed by their lower-case form.
 */
export function throttlerNames(options: unknown): Map<string, string> {
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
