/**
 * Request-scoped and transient instances are created after bootstrap, one per request (or per
 * inquirer), by `new` on the class: no explorer can see them then. Nest stores each one in a host
 * object (`{ instance, isResolved, ... }`) it registers on the provider's `InstanceWrapper` through
 * `setInstanceByContextId` / `setInstanceByInquirerId` before it constructs the instance. This hook,
 * installed on this application's wrappers only (own properties: other applications, which have
 * wrappers of their own, are untouched), turns each new host's `instance` into an accessor that
 * hands every object stored there to `bind`.
 */

interface Host {
  instance?: unknown;
}
interface HookableWrapper {
  setInstanceByContextId?: (contextId: unknown, host: Host, inquirerId?: unknown) => unknown;
  setInstanceByInquirerId?: (contextId: unknown, inquirerId: unknown, host: Host) => unknown;
}

const HOOKED = Symbol('veza-metrics:hooked-host');

function hookHost(host: Host, bind: (instance: object) => void): Host {
  if (typeof host !== 'object' || host === null || (host as Record<symbol, unknown>)[HOOKED]) return host;
  let value = host.instance;
  if (typeof value === 'object' && value !== null) bind(value);
  Object.defineProperty(host, 'instance', {
    configurable: true,
    enumerable: true,
    get: () => value,
    set: (next: unknown) => {
      value = next;
      if (typeof next === 'object' && next !== null) bind(next);
    },
  });
  Object.defineProperty(host, HOOKED, { value: true });
  return host;
}

/**
 * Hooks `wrapper` so that every instance Nest creates for it from now on is handed to `bind`.
 * Returns what undoes it, or `undefined` when this Nest version's wrapper does not have the
 * expected methods (the caller warns that such instances will not be measured).
 */
export function hookFutureInstances(
  wrapper: object,
  bind: (instance: object) => void,
): (() => void) | undefined {
  const w = wrapper as HookableWrapper;
  const byContext = w.setInstanceByContextId;
  const byInquirer = w.setInstanceByInquirerId;
  if (typeof byContext !== 'function' || typeof byInquirer !== 'function') return undefined;
  const hadOwn = [
    Object.prototype.hasOwnProperty.call(w, 'setInstanceByContextId'),
    Object.prototype.hasOwnProperty.call(w, 'setInstanceByInquirerId'),
  ];
  w.setInstanceByContextId = function (this: unknown, contextId, host, inquirerId) {
    return byContext.call(this, contextId, hookHost(host, bind), inquirerId);
  };
  w.setInstanceByInquirerId = function (this: unknown, contextId, inquirerId, host) {
    return byInquirer.call(this, contextId, inquirerId, hookHost(host, bind));
  };
  return () => {
    if (hadOwn[0]) w.setInstanceByContextId = byContext;
    else delete w.setInstanceByContextId;
    if (hadOwn[1]) w.setInstanceByInquirerId = byInquirer;
    else delete w.setInstanceByInquirerId;
  };
}
