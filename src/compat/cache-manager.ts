/*
 * What the cache recorder assumes of @nestjs/cache-manager, cache-manager and Keyv (contract test:
 * test/unit/cache-manager-contract.spec.ts, naming the installed versions; the matrix's Nest 10 and
 * 11 jest rows run it against their fixtures' cache-manager 6 and 7). Verified on
 * @nestjs/cache-manager 12.0.0, cache-manager 7.2.9, keyv 5.6.0 and @keyv/redis 5.1.6, and on
 * @nestjs/cache-manager 3.1.3, cache-manager 6.4.3, keyv 5.6.0 and @keyv/redis 4.6.0 with Nest 11.2.12
 * installed outside the repository (VEZA_PEERS_DIR: the contract spec's header). Nothing here
 * loads any of these packages: the caches are found in the application's container by their token
 * and used through the methods their own callers use.
 *
 * CM1 `CacheModule.register()` / `registerAsync()` of @nestjs/cache-manager provide the cache under
 *     the string token `'CACHE_MANAGER'` (its `CACHE_MANAGER`), one instance per registration (a
 *     global one for `isGlobal`), the very object `@Inject(CACHE_MANAGER)` and `CacheInterceptor`
 *     get. Fallback: an application without such a provider is taken for one without caches:
 *     nothing is loaded, nothing hooked, nothing recorded.
 * CM2 That instance is the object cache-manager 6/7's `createCache()` returns: `get`, `mget` and
 *     `wrap` are its own writable function properties, which every caller (CacheInterceptor, the
 *     application) calls through the object, and `on(event, listener)` / `off` reach its events.
 *     Replacing `get`, `mget` and `wrap` on the instance therefore sees every read. Fallback: an
 *     instance without `get` and `on` functions is not hooked (its reads are not counted).
 * CM3 `get(key)` and `mget(keys)` return native promises that resolve, never reject, on a store's
 *     failure: the failure is emitted first as the event `'get'` `{ key, error }` (`'mget'`
 *     `{ keys, error }`; cache-manager 6's `mget` reads through its own `get`, so a `'get'` event per
 *     failed key), then `get` resolves `undefined` (6: `null`; `mget` such an entry). `get`
 *     resolves `undefined` when no store has the key (`null` in cache-manager 6) and the value when
 *     one has it; `mget` resolves one entry per key, `undefined` (6: `null`) for a key none has.
 *     cache-manager emits no event for a miss, so its events alone cannot tell a miss (hence the
 *     methods are wrapped). Fallback: none needed; a stored `null` counts as a miss.
 * CM4 `wrap(key, fn, ttlOrOptions?, refreshThreshold?)` calls `fn` when no store has the key, awaits
 *     it and resolves with its result (`{ value, expires }` under `{ raw: true }`); when a store has
 *     the key it resolves with the stored value, and calls `fn` only for a background refresh
 *     (`refreshThreshold`) that it does not await. A concurrent `wrap` of the same key shares the
 *     first one's call and does not call its own `fn`. Fallback: none needed (a `wrap` whose `fn`
 *     is not a function is passed through uncounted).
 * CM5 `stores` is the cache's array of Keyv instances, the primary first; a Keyv's `namespace` is
 *     what the application gave it (Keyv's own default `'keyv'` for createCache's built-in one), and
 *     its `store` is a `Map` for the in-memory store, else the adapter (`KeyvRedis` of @keyv/redis,
 *     `Keyv<Name>` for the other official adapters). Fallback: the subsystem `cache`.
 */
import type { ModulesContainer } from '@nestjs/core';
import { hasStaticTree, tokensOf } from './nest-core';

/** The token @nestjs/cache-manager provides its caches under (CM1). */
export const CACHE_MANAGER_TOKEN = 'CACHE_MANAGER';

type Method = (...args: unknown[]) => unknown;

/** The part of a cache-manager 6/7 cache the recorder uses (CM2, CM5). */
export interface CacheLike {
  get: Method;
  mget?: Method;
  wrap?: Method;
  on(event: string, listener: (event: unknown) => void): unknown;
  off?(event: string, listener: (event: unknown) => void): unknown;
  readonly stores?: unknown;
}

/** What a hooked cache tells about each of its reads. */
export interface CacheReadObserver {
  /** `n` reads that found a value. */
  hits(n: number): void;
  /** `n` reads that found none. */
  misses(n: number): void;
}

const isCache = (value: unknown): value is CacheLike =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as CacheLike).get === 'function' &&
  typeof (value as CacheLike).on === 'function';

/**
 * Every cache of @nestjs/cache-manager in the application (CM1, CM2), each once: the providers under
 * `'CACHE_MANAGER'` of every module, request-scoped ones left out. Empty when the application has
 * none, or `modules` is not a Nest container.
 */
export function cachesOf(modules: ModulesContainer | undefined): CacheLike[] {
  const found = new Set<CacheLike>();
  if (!modules || typeof modules.values !== 'function') return [];
  for (const module of modules.values()) {
    for (const [token, wrapper] of tokensOf(module)) {
      if (token !== CACHE_MANAGER_TOKEN || !hasStaticTree(wrapper)) continue;
      if (isCache(wrapper.instance)) found.add(wrapper.instance);
    }
  }
  return [...found];
}

/** The kind of a Keyv's store (CM5): `memory` for a `Map`, `redis` for `KeyvRedis`, ... */
function storeKind(keyv: unknown): string {
  if (typeof keyv !== 'object' || keyv === null) return 'cache';
  const store = (keyv as { store?: unknown }).store;
  if (store instanceof Map) return 'memory';
  const name = typeof store === 'object' && store !== null ? store.constructor?.name : undefined;
  if (typeof name !== 'string') return 'cache';
  if (name === 'CacheableMemory' || name === 'KeyvCacheableMemory') return 'memory';
  const adapter = /^Keyv([A-Z]\w*)$/.exec(name)?.[1];
  return adapter ? adapter.toLowerCase() : 'cache';
}

/** Keyv's own default namespace (CM5): not a name the application chose. */
const KEYV_DEFAULT_NAMESPACE = 'keyv';

/**
 * The subsystem a cache is recorded under (CM5): the namespace of its primary Keyv when the
 * application set one, else its stores' kinds joined by `+` (`memory`, `redis`, `memory+redis`).
 * Uncut: the caller bounds it.
 */
export function cacheName(cache: CacheLike): string {
  const stores = Array.isArray(cache.stores) ? (cache.stores as unknown[]) : [];
  if (stores.length === 0) return 'cache';
  const namespace: unknown = (stores[0] as { namespace?: unknown } | null)?.namespace;
  if (typeof namespace === 'string' && namespace !== '' && namespace !== KEYV_DEFAULT_NAMESPACE)
    return namespace;
  return stores.map(storeKind).join('+');
}

interface Hooked {
  readonly observers: CacheReadObserver[];
  readonly restore: () => void;
}

const hooked = new WeakMap<CacheLike, Hooked>();

const ignore = (): void => {};

const isRaw = (options: unknown): boolean =>
  typeof options === 'object' && options !== null && (options as { raw?: unknown }).raw === true;

/**
 * Counts every read of `cache` for `observer` (CM2-CM4), until the returned function is called: a
 * `get` that resolves a value is a hit, one that resolves `undefined` or `null` a miss; `mget` per key; a
 * `wrap` that resolves without having run its function to completion for this call is a hit, one
 * whose result is its function's a miss. A read during which the cache reported a store failure
 * (CM3), or that rejects, is neither. The caller gets the very promise cache-manager returned, at
 * the same moment; the observers run in a reaction of their own, and what they throw is dropped.
 * Several observers of one cache (applications sharing it) share one hook.
 */
export function hookCache(cache: CacheLike, observer: CacheReadObserver): () => void {
  let entry = hooked.get(cache);
  if (!entry) {
    entry = install(cache);
    hooked.set(cache, entry);
  }
  const { observers } = entry;
  observers.push(observer);
  return () => {
    const at = observers.indexOf(observer);
    if (at < 0) return;
    observers.splice(at, 1);
    if (observers.length > 0) return;
    hooked.delete(cache);
    entry.restore();
  };
}

function install(cache: CacheLike): Hooked {
  const observers: CacheReadObserver[] = [];
  /** Store failures cache-manager reported (CM3); a read that saw this change is neither. */
  let failures = 0;
  const onEvent = (event: unknown): void => {
    if (typeof event === 'object' && event !== null && 'error' in event) failures++;
  };
  const count = (hits: number, misses: number): void => {
    for (const o of observers) {
      try {
        if (hits > 0) o.hits(hits);
        if (misses > 0) o.misses(misses);
      } catch {
        // An observer reports its own failures; none may become an unhandled rejection here.
      }
    }
  };
  const { get, mget, wrap } = cache;
  function hookedGet(this: unknown, ...args: unknown[]): unknown {
    const before = failures;
    const result = get.apply(this, args);
    if (result instanceof Promise)
      result.then((value: unknown) => {
        if (value !== undefined && value !== null) count(1, 0);
        else if (failures === before) count(0, 1);
      }, ignore);
    return result;
  }
  function hookedMget(this: unknown, ...args: unknown[]): unknown {
    const before = failures;
    const result = (mget as Method).apply(this, args);
    if (result instanceof Promise)
      result.then((values: unknown) => {
        if (!Array.isArray(values)) return;
        let hits = 0;
        for (const v of values) if (v !== undefined && v !== null) hits++;
        count(hits, failures === before ? values.length - hits : 0);
      }, ignore);
    return result;
  }
  function hookedWrap(this: unknown, ...args: unknown[]): unknown {
    const fn = args[1];
    if (typeof fn !== 'function') return (wrap as Method).apply(this, args);
    // 0: fn not called; 1: called, not fulfilled; 2: fulfilled with `made`.
    let ran = 0;
    let made: unknown;
    args[1] = function counted(this: unknown, ...inner: unknown[]): unknown {
      const r: unknown = (fn as Method).apply(this, inner);
      ran = 1;
      if (r instanceof Promise)
        r.then((v: unknown) => {
          ran = 2;
          made = v;
        }, ignore);
      else {
        ran = 2;
        made = r;
      }
      return r;
    };
    const raw = isRaw(args[2]);
    const result = (wrap as Method).apply(this, args);
    if (result instanceof Promise)
      result.then((value: unknown) => {
        const got =
          raw && typeof value === 'object' && value !== null ? (value as { value?: unknown }).value : value;
        // A miss resolves with what fn made (CM4); a hit with the stored value, even when it started a refresh.
        if (ran === 2 && Object.is(got, made)) count(0, 1);
        else count(1, 0);
      }, ignore);
    return result;
  }
  cache.on('get', onEvent);
  cache.on('mget', onEvent);
  cache.get = hookedGet;
  if (typeof mget === 'function') cache.mget = hookedMget;
  if (typeof wrap === 'function') cache.wrap = hookedWrap;
  return {
    observers,
    restore: () => {
      if (cache.get === hookedGet) cache.get = get;
      if (cache.mget === hookedMget) cache.mget = mget;
      if (cache.wrap === hookedWrap) cache.wrap = wrap;
      cache.off?.('get', onEvent);
      cache.off?.('mget', onEvent);
    },
  };
}
