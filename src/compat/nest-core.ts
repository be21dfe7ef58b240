/*
 * What this library assumes of Nest's core (@nestjs/core, and the metadata keys of @nestjs/common).
 * Every read or patch of their internals is here; the rest of the code uses the small typed
 * functions below. Contract test: test/unit/compat-nest-core.spec.ts, which names the assumption and
 * the installed @nestjs/core when one breaks (run on Nest 10, 11 and 12 by `npm run test:matrix`).
 * Verified here on @nestjs/core and @nestjs/common 12.5.1.
 *
 * N1 `ExceptionsHandler#next(exception, host)` (deep path `@nestjs/core/exceptions/exceptions-handler.js`)
 *    receives every exception of an HTTP request (guard, pipe, interceptor, handler, middleware, the
 *    404 handler) before the exception filters run, `host.getArgByIndex(0)` being the request. Why:
 *    the class of the exception behind a 5xx or 429, with no interceptor or filter of ours in the
 *    request's path. Fallback: not wrapped, logged once; `veza_errors_total` then counts the error
 *    with `type="<none>"`, as for a response no exception caused.
 * N2 A module of `ModulesContainer` keeps its `providers`, `controllers` and `injectables` as Maps of
 *    `InstanceWrapper`s (`providers` keyed by injection token); a wrapper has `instance`,
 *    `metatype` (the class, or a factory when `isNotMetatype`), `isTransient`,
 *    `isDependencyTreeStatic()` and `getStaticTransientInstances()` (hosts `{ instance }`). Why: find
 *    every instance to bind a decorated method's meter to at bootstrap, and the marks of an optional
 *    peer's use (optional-peers.ts) before anything is built. Fallback: a missing method counts as a
 *    singleton wrapper with no transient instances.
 * N3 `InstanceWrapper#setInstanceByContextId(contextId, host, inquirerId?)` and
 *    `#setInstanceByInquirerId(contextId, inquirerId, host)` store each request-scoped or transient
 *    host before Nest constructs its instance into `host.instance`. Why: request-scoped and transient
 *    instances are created after bootstrap, by `new`, where no explorer sees them. Fallback: when
 *    either method is missing, such instances are not measured and a warning names the methods.
 * N4 `LazyModuleLoader#load(factory)` (one loader per application) resolves once the module it loads
 *    and its imports hold their instances. Why: lazy modules run no lifecycle hook for their
 *    providers. Fallback: no loader or no `load` method, lazy modules are not followed, logged once.
 * N5 `ApplicationConfig#getIoAdapter()` is what Nest calls to get the WebSocket adapter when it
 *    connects gateways, after every provider was built. Why: reach the adapter the application chose
 *    (or Nest's default) to count connections, without asking the application for it. Fallback: no
 *    such method, connections are not counted, logged once.
 * N6 The router's own path building: `RoutePathFactory` (`@nestjs/core/router/route-path-factory.js`:
 *    `new RoutePathFactory(config).create(metadata, requestMethod)`), `PathsExplorer`
 *    (`@nestjs/core/router/paths-explorer.js`: `scanForPaths(instance, prototype)` gives
 *    `{ path[], requestMethod, methodName, version }`), the metadata keys `MODULE_PATH` (suffixed with
 *    `ModulesContainer#applicationId`, `RouterModule`), `PATH_METADATA` and `VERSION_METADATA`
 *    (`@nestjs/common/constants.js`). Why: resolve a `@NoMetrics()` handler to the very templates
 *    Nest registers (module path, controller path, version, global prefix and its exclusions).
 *    Fallback: not loadable, `@NoMetrics()` handlers are recorded like any other, logged once
 *    (`http.exclude`, which names templates, still applies).
 */
import type { RequestMethod, VERSION_NEUTRAL } from '@nestjs/common';
import type { ApplicationConfig, LazyModuleLoader, ModulesContainer } from '@nestjs/core';
import { describeInstalled } from './installed-version';

/** `@nestjs/core 12.5.1`, for messages. */
export const nestCoreVersion = (): string => describeInstalled('@nestjs/core');

/** `require`, replaced in tests to play a Nest whose internals moved. */
type Load = (id: string) => unknown;
// eslint-disable-next-line @typescript-eslint/no-require-imports
const nodeRequire: Load = (id) => require(id);

/** A `@Version()` value, as Nest's (internal) `VersionValue` interface types it. */
export type VersionValue = string | typeof VERSION_NEUTRAL | Array<string | typeof VERSION_NEUTRAL>;

// N1 ------------------------------------------------------------------------------------------------

const EXCEPTIONS_HANDLER = '@nestjs/core/exceptions/exceptions-handler.js';
const PATCHED = Symbol.for('veza.metrics.exceptionsHandlerPatched');

interface HostLike {
  getArgByIndex(index: number): unknown;
}
type Next = (this: unknown, exception: unknown, host: HostLike) => unknown;

/**
 * Hands `note` every exception Nest's HTTP exception handler receives, with the request (N1), then
 * runs the handler with the same arguments. Once per process, shared by every copy of the library
 * (the first copy's `note` runs). False when N1 does not hold: nothing is wrapped.
 */
export function wrapExceptionsHandler(
  note: (exception: unknown, request: object) => void,
  load: Load = nodeRequire,
): boolean {
  let proto: { next?: Next; [PATCHED]?: true } | undefined;
  try {
    proto = (load(EXCEPTIONS_HANDLER) as { ExceptionsHandler?: { prototype: typeof proto } })
      .ExceptionsHandler?.prototype;
  } catch {
    return false;
  }
  if (proto === undefined || typeof proto.next !== 'function') return false;
  if (proto[PATCHED]) return true;
  const original = proto.next;
  proto.next = function next(this: unknown, exception: unknown, host: HostLike): unknown {
    try {
      const request = host.getArgByIndex(0);
      if (typeof request === 'object' && request !== null) note(exception, request);
    } catch {
      // Noting the exception is best effort; handling it is not ours to disturb.
    }
    return original.call(this, exception, host);
  };
  Object.defineProperty(proto, PATCHED, { value: true });
  return true;
}

// N2 ------------------------------------------------------------------------------------------------

/** A module of the container, as Nest types it. */
export type ContainerModule = ReturnType<ModulesContainer['values']> extends Iterable<infer M> ? M : never;

/** The parts of Nest's `InstanceWrapper` this library reads (N2, N3). */
export interface WrapperLike {
  readonly instance: unknown;
  readonly isTransient?: boolean;
  readonly metatype?: unknown;
  isDependencyTreeStatic?(): boolean;
  getStaticTransientInstances?(): Array<{ instance: unknown } | undefined>;
}

/** The providers of `module` by injection token (N2). */
export function tokensOf(module: ContainerModule): Iterable<[unknown, WrapperLike]> {
  return module.providers.entries();
}

/** The class of a wrapper's provider; `undefined` for a factory, value or alias provider (N2). */
export function classOf(wrapper: WrapperLike): object | undefined {
  const { metatype, isNotMetatype } = wrapper as WrapperLike & { isNotMetatype?: boolean };
  return typeof metatype === 'function' && isNotMetatype !== true ? metatype : undefined;
}

/** Every wrapper of `module`: providers, controllers, enhancers (N2). */
export function wrappersOf(module: ContainerModule): WrapperLike[] {
  const all: WrapperLike[] = [];
  for (const map of [module.providers, module.controllers, module.injectables])
    for (const wrapper of map.values()) all.push(wrapper);
  return all;
}

/** Its instance does not depend on a request: not request-scoped, nor depending on one (N2). */
export const hasStaticTree = (wrapper: WrapperLike): boolean => wrapper.isDependencyTreeStatic?.() !== false;

/** One instance for the whole application: not transient, not request-scoped (nor depending on one). */
export const isSingleton = (wrapper: WrapperLike): boolean =>
  wrapper.isTransient !== true && hasStaticTree(wrapper);

/** The transient instances Nest created at bootstrap for `wrapper`'s inquirers (N2). */
export function staticTransientInstances(wrapper: WrapperLike): object[] {
  const hosts = wrapper.getStaticTransientInstances?.() ?? [];
  return hosts.map((h) => h?.instance).filter((i): i is object => typeof i === 'object' && i !== null);
}

// N3 ------------------------------------------------------------------------------------------------

interface Host {
  instance?: unknown;
}
interface HookableWrapper {
  setInstanceByContextId?: (contextId: unknown, host: Host, inquirerId?: unknown) => unknown;
  setInstanceByInquirerId?: (contextId: unknown, inquirerId: unknown, host: Host) => unknown;
}

const HOOKED = Symbol('veza-metrics:hooked-host');

/** Turns `host.instance` into an accessor that hands every object stored there to `bind`. */
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
 * Hooks `wrapper` (own properties: other applications' wrappers are untouched) so that every instance
 * Nest creates for it from now on is handed to `bind` (N3). Returns what undoes it, or `undefined`
 * when N3 does not hold (the caller warns that such instances are not measured).
 */
export function hookFutureInstances(
  wrapper: WrapperLike,
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

// N4 ------------------------------------------------------------------------------------------------

/**
 * Wraps this application's `LazyModuleLoader#load` (N4) so that `settled` runs each time no load is
 * in flight any more (a module of a load still running holds placeholders, not instances). The load
 * answers as Nest made it, whatever `settled` does. Returns what undoes it, or `undefined` when N4
 * does not hold.
 */
export function followLazyLoads(
  loader: LazyModuleLoader | undefined,
  settled: () => void,
): (() => void) | undefined {
  if (!loader || typeof loader.load !== 'function') return undefined;
  const original = loader.load.bind(loader);
  const ownBefore = Object.prototype.hasOwnProperty.call(loader, 'load');
  let inFlight = 0;
  const load: LazyModuleLoader['load'] = async (...args) => {
    inFlight++;
    try {
      return await original(...args);
    } finally {
      inFlight--;
      if (inFlight === 0) {
        try {
          settled();
        } catch {
          // `settled` reports its own problems; the load is not ours to fail.
        }
      }
    }
  };
  loader.load = load;
  return () => {
    if (loader.load !== load) return;
    if (ownBefore) loader.load = original;
    else delete (loader as { load?: unknown }).load;
  };
}

// N5 ------------------------------------------------------------------------------------------------

/**
 * Hands `seen` the WebSocket adapter each time Nest asks this application's config for it (N5); the
 * adapter itself is returned untouched. False when N5 does not hold: nothing is wrapped.
 */
export function onIoAdapter(config: ApplicationConfig, seen: (adapter: object) => void): boolean {
  const getIoAdapter = (config as { getIoAdapter?: () => unknown }).getIoAdapter;
  if (typeof getIoAdapter !== 'function') return false;
  const original = getIoAdapter.bind(config);
  (config as { getIoAdapter: () => unknown }).getIoAdapter = () => {
    const adapter = original();
    if (typeof adapter === 'object' && adapter !== null) seen(adapter);
    return adapter;
  };
  return true;
}

// N6 ------------------------------------------------------------------------------------------------

/** One route of a controller, as Nest's `PathsExplorer` describes it. */
export interface RouteOfHandler {
  readonly path: readonly string[];
  readonly requestMethod: RequestMethod;
  readonly methodName: string;
  readonly version?: VersionValue;
}

/** What `RoutePathFactory#create` takes. */
export interface RoutePathParts {
  ctrlPath: string;
  methodPath: string;
  modulePath?: string;
  globalPrefix?: string;
  controllerVersion?: VersionValue;
  methodVersion?: VersionValue;
  versioningOptions?: unknown;
}

/** Nest's router internals, as far as resolving a handler's templates goes (N6). */
export interface NestRouter {
  /** The routes `controller`'s prototype declares (`instance` as Nest holds it, or the prototype). */
  routesOf(instance: object, prototype: object): RouteOfHandler[];
  /** The paths Nest registers for one (controller path, handler path) under `config`. */
  paths(config: ApplicationConfig, parts: RoutePathParts, method: RequestMethod): string[];
  /** The path `RouterModule` gave `module` in this application, if any. */
  modulePath(modules: ModulesContainer, module: object): string | undefined;
  /** The controller's `@Controller()` path(s). */
  controllerPath(controller: object): string | string[] | undefined;
  /** The controller's `@Version()`. */
  controllerVersion(controller: object): VersionValue | undefined;
}

interface RouterModules {
  RoutePathFactory: new (config: ApplicationConfig) => {
    create(parts: RoutePathParts, method: RequestMethod): string[];
  };
  PathsExplorer: new (scanner: unknown) => {
    scanForPaths(instance: object, prototype: object): RouteOfHandler[];
  };
  MetadataScanner: new () => unknown;
  MODULE_PATH: string;
  PATH_METADATA: string;
  VERSION_METADATA: string;
}

/** Nest's router internals (N6), or `undefined` when they cannot be loaded as expected. */
export function nestRouter(load: Load = nodeRequire): NestRouter | undefined {
  let parts: RouterModules;
  try {
    const factory = load('@nestjs/core/router/route-path-factory.js') as Partial<RouterModules>;
    const explorer = load('@nestjs/core/router/paths-explorer.js') as Partial<RouterModules>;
    const core = load('@nestjs/core') as Partial<RouterModules>;
    const constants = load('@nestjs/common/constants.js') as Partial<RouterModules>;
    parts = {
      RoutePathFactory: factory.RoutePathFactory!,
      PathsExplorer: explorer.PathsExplorer!,
      MetadataScanner: core.MetadataScanner!,
      MODULE_PATH: constants.MODULE_PATH!,
      PATH_METADATA: constants.PATH_METADATA!,
      VERSION_METADATA: constants.VERSION_METADATA!,
    };
  } catch {
    return undefined;
  }
  const { RoutePathFactory, PathsExplorer, MetadataScanner, MODULE_PATH, PATH_METADATA, VERSION_METADATA } =
    parts;
  if (
    typeof RoutePathFactory !== 'function' ||
    typeof (PathsExplorer?.prototype as { scanForPaths?: unknown } | undefined)?.scanForPaths !==
      'function' ||
    typeof (RoutePathFactory.prototype as { create?: unknown } | undefined)?.create !== 'function' ||
    typeof MetadataScanner !== 'function' ||
    [MODULE_PATH, PATH_METADATA, VERSION_METADATA].some((k) => typeof k !== 'string')
  ) {
    return undefined;
  }
  const explorer = new PathsExplorer(new MetadataScanner());
  return {
    routesOf: (instance, prototype) => explorer.scanForPaths(instance, prototype),
    paths: (config, route, method) => new RoutePathFactory(config).create(route, method),
    modulePath: (modules, module) => {
      const applicationId = (modules as unknown as { applicationId?: string }).applicationId ?? '';
      return (Reflect.getMetadata(MODULE_PATH + applicationId, module) ??
        Reflect.getMetadata(MODULE_PATH, module)) as string | undefined;
    },
    controllerPath: (controller) =>
      Reflect.getMetadata(PATH_METADATA, controller) as string | string[] | undefined,
    controllerVersion: (controller) =>
      Reflect.getMetadata(VERSION_METADATA, controller) as VersionValue | undefined,
  };
}
