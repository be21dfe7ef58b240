/**
 * Contract tests of src/compat/cache-manager.ts (CM1-CM5) on the installed @nestjs/cache-manager,
 * cache-manager, keyv and @keyv/redis: a failure names the assumption and the installed versions.
 * Then the hook itself: the caller gets the very promise cache-manager returned, and what counts as
 * a hit, a miss or neither. The matrix's Nest 10 and 11 jest rows run it against their
 * fixtures' cache-manager (VEZA_PEERS_DIR, scripts/matrix.sh). No Redis server is needed (the adapter is only constructed).
 *
 * Against cache-manager 6 with @nestjs/cache-manager 3 (what Nest 10 and 11 applications pair),
 * installed outside the repository:
 *   mkdir /tmp/v-cm6 && cd /tmp/v-cm6 && npm init -y && npm install cache-manager@6
 *     @nestjs/cache-manager@3 keyv@5 @keyv/redis@4 @nestjs/common@11 @nestjs/core@11 @nestjs/testing@11
 *     reflect-metadata rxjs
 *   VEZA_PEERS_DIR=/tmp/v-cm6 npx jest test/unit/cache-manager-contract.spec.ts --runInBand
 */
import { Module } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { CACHE_MANAGER, CacheModule } from '@nestjs/cache-manager';
import { createCache } from 'cache-manager';
import { Keyv } from 'keyv';
import KeyvRedis from '@keyv/redis';
import { describeInstalled, installedVersion } from '../../src/compat/installed-version';
import {
  CACHE_MANAGER_TOKEN,
  cacheName,
  cachesOf,
  hookCache,
  type CacheLike,
} from '../../src/compat/cache-manager';

const INSTALLED = ['@nestjs/cache-manager', 'cache-manager', 'keyv', '@keyv/redis']
  .map((p) => describeInstalled(p))
  .join(', ');

/** What `get` resolves, and `mget` holds, for a key no store has (CM3): `null` in cache-manager 6. */
const NONE = Number((installedVersion('cache-manager') ?? '7').split('.')[0]) < 7 ? null : undefined;

function holds(id: string, ok: boolean, detail: string): void {
  if (!ok) throw new Error(`${INSTALLED} no longer meet ${id} of src/compat/cache-manager.ts: ${detail}`);
}

/** A Keyv whose store fails every call, `throwOnErrors` so that Keyv passes the failure on. */
function failingKeyv(): Keyv {
  const fail = (): Promise<never> => Promise.reject(new Error('store down'));
  const adapter = { get: fail, getMany: fail, set: fail, delete: fail, clear: fail, on: () => adapter };
  return new Keyv({ store: adapter, throwOnErrors: true });
}

const asCache = (value: unknown): CacheLike => value as CacheLike;

/** The counts a hooked cache reported. */
function counting(cache: CacheLike): { hits: number; misses: number; unhook: () => void } {
  const seen = { hits: 0, misses: 0, unhook: () => {} };
  seen.unhook = hookCache(cache, { hits: (n) => (seen.hits += n), misses: (n) => (seen.misses += n) });
  return seen;
}

/** Lets every pending reaction run (the hook's reactions run before the caller's). */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe(`src/compat/cache-manager.ts on ${INSTALLED}`, () => {
  it('CM1: CacheModule.register() provides each cache under the string token CACHE_MANAGER, found once per register() / registerAsync()', async () => {
    holds('CM1', CACHE_MANAGER === CACHE_MANAGER_TOKEN, `CACHE_MANAGER is ${String(CACHE_MANAGER)}`);
    @Module({ imports: [CacheModule.register()] })
    class A {}
    @Module({ imports: [CacheModule.register({ isGlobal: true })] })
    class B {}
    @Module({ imports: [CacheModule.registerAsync({ useFactory: () => Promise.resolve({ ttl: 1000 }) })] })
    class C {}
    @Module({ imports: [A, B, C] })
    class Root {}
    const moduleRef = await Test.createTestingModule({ imports: [Root] }).compile();
    const caches = cachesOf(moduleRef.get(ModulesContainer));
    holds('CM1', caches.length === 3, `found ${caches.length} caches for 3 registrations`);
    await moduleRef.close();
    @Module({})
    class Bare {}
    const bare = await Test.createTestingModule({ imports: [Bare] }).compile();
    expect(cachesOf(bare.get(ModulesContainer))).toEqual([]);
    await bare.close();
  });

  it('CM2: get, mget and wrap are own writable functions of the cache, and on/off reach its events', async () => {
    @Module({ imports: [CacheModule.register()] })
    class Root {}
    const moduleRef = await Test.createTestingModule({ imports: [Root] }).compile();
    const cache = moduleRef.get<object>(CACHE_MANAGER);
    for (const name of ['get', 'mget', 'wrap']) {
      const d = Object.getOwnPropertyDescriptor(cache, name);
      holds(
        'CM2',
        typeof d?.value === 'function' && d.writable === true,
        `${name} is not an own writable function`,
      );
    }
    for (const name of ['on', 'off'])
      holds('CM2', typeof (cache as Record<string, unknown>)[name] === 'function', `no ${name}()`);
    await moduleRef.close();
  });

  it('CM3: get and mget resolve on a store failure after emitting it; no event tells a miss', async () => {
    const events: unknown[] = [];
    const failing = createCache({ stores: [failingKeyv()] });
    failing.on('get', (e) => events.push(e));
    failing.on('mget', (e) => events.push(e));
    holds('CM3', (await failing.get('k')) === NONE, `get did not resolve ${String(NONE)} on a failure`);
    holds('CM3', events.length === 1 && 'error' in (events[0] as object), 'no get event with an error');
    const many = await failing.mget(['a', 'b']);
    holds(
      'CM3',
      many.length === 2 && many.every((v) => v === NONE),
      `mget did not resolve ${String(NONE)} entries`,
    );
    // cache-manager 7 emits one 'mget' { keys, error }; 6's mget reads through its own get: a 'get'
    // { key, error } per key. The hook counts a failure from either event.
    const mgetFailures = events
      .slice(1)
      .filter((e) =>
        NONE === null
          ? 'key' in (e as object) && 'error' in (e as object)
          : 'keys' in (e as object) && 'error' in (e as object),
      );
    holds(
      'CM3',
      mgetFailures.length === (NONE === null ? 2 : 1),
      `${mgetFailures.length} ${NONE === null ? "'get' events" : "'mget' events"} with an error for a failed mget`,
    );
    const memory = createCache();
    const seen: unknown[] = [];
    memory.on('get', (e) => seen.push(e));
    holds('CM3', (await memory.get('absent')) === NONE && seen.length === 0, 'a miss emitted an event');
    await memory.set('k', 1);
    holds('CM3', (await memory.get('k')) === 1, 'a hit did not resolve the value');
  });

  it('CM4: wrap runs fn on a miss and resolves its result, not on a hit; concurrent wraps share one call', async () => {
    const cache = createCache();
    let calls = 0;
    const fn = (): Promise<string> => Promise.resolve(`made-${++calls}`);
    holds('CM4', (await cache.wrap('w', fn)) === 'made-1' && calls === 1, 'a miss did not run fn once');
    holds('CM4', (await cache.wrap('w', fn)) === 'made-1' && calls === 1, 'a hit ran fn');
    const [a, b] = await Promise.all([cache.wrap('v', fn), cache.wrap('v', fn)]);
    holds('CM4', a === b && calls === 2, `concurrent wraps ran fn ${calls - 1} times`);
  });

  it('CM5: stores are Keyv instances with namespace and store: Map for memory, KeyvRedis for @keyv/redis', () => {
    const memory = asCache(createCache());
    holds('CM5', cacheName(memory) === 'memory', `the default cache is named ${cacheName(memory)}`);
    const named = asCache(createCache({ stores: [new Keyv({ namespace: 'pages' })] }));
    holds('CM5', cacheName(named) === 'pages', `a namespaced cache is named ${cacheName(named)}`);
    const redis = new Keyv({ store: new KeyvRedis('redis://127.0.0.1:1') });
    const tiered = asCache(createCache({ stores: [new Keyv(), redis] }));
    holds('CM5', cacheName(tiered) === 'memory+redis', `a tiered cache is named ${cacheName(tiered)}`);
  });
});

describe('hookCache: what counts, and what the caller gets', () => {
  it('the caller gets the very promise cache-manager returned; a hit, a miss, mget per key', async () => {
    const cache = asCache(createCache());
    const own = cache.get;
    const returned: unknown[] = [];
    cache.get = (...args: unknown[]) => {
      const p = own(...args);
      returned.push(p);
      return p;
    };
    const seen = counting(cache);
    await (cache as unknown as ReturnType<typeof createCache>).set('k', 'v');
    const p = cache.get('k');
    expect(p).toBe(returned[0]);
    expect(await p).toBe('v');
    expect(await cache.get('absent')).toBe(NONE);
    expect(await cache.mget!(['k', 'x', 'y'])).toEqual(['v', NONE, NONE]);
    await settle();
    expect(seen).toMatchObject({ hits: 2, misses: 3 });
  });

  it("cache-manager 6's null for none found is a miss", async () => {
    const v6 = asCache({
      get: (key: unknown) => Promise.resolve(key === 'k' ? 'v' : null),
      mget: (keys: unknown[]) => Promise.resolve(keys.map((k) => (k === 'k' ? 'v' : null))),
      on: () => undefined,
    });
    const seen = counting(v6);
    expect(await v6.get('k')).toBe('v');
    expect(await v6.get('absent')).toBeNull();
    expect(await v6.mget!(['k', 'absent'])).toEqual(['v', null]);
    expect(seen).toMatchObject({ hits: 2, misses: 2 });
  });

  it('the hook counts before the caller continues', async () => {
    const cache = asCache(createCache());
    const seen = counting(cache);
    await cache.get('absent');
    expect(seen.misses).toBe(1);
  });

  it('a failing store is neither; a rejected wrap is neither and rejects with the same error', async () => {
    const cache = asCache(createCache({ stores: [failingKeyv()] }));
    const seen = counting(cache);
    expect(await cache.get('k')).toBe(NONE);
    expect(await cache.mget!(['a', 'b'])).toEqual([NONE, NONE]);
    const error = new Error('no value');
    await expect(cache.wrap!('w', () => Promise.reject(error))).rejects.toBe(error);
    await settle();
    expect(seen).toMatchObject({ hits: 0, misses: 0 });
  });

  it('wrap: a miss when it ran fn, a hit when it returned the stored value, raw too', async () => {
    const cache = asCache(createCache());
    const seen = counting(cache);
    const made = { n: 1 };
    expect(await cache.wrap!('w', () => made)).toBe(made);
    expect(await cache.wrap!('w', () => ({ n: 2 }))).toBe(made);
    const raw = (await cache.wrap!('r', () => 7, { raw: true })) as { value: unknown };
    expect(raw.value).toBe(7);
    await settle();
    expect(seen).toMatchObject({ hits: 1, misses: 2 });
  });

  it('an observer that throws reaches no one; unhooking puts the methods back', async () => {
    const cache = asCache(createCache());
    const { get, mget, wrap } = cache;
    const unhook = hookCache(cache, {
      hits: () => {
        throw new Error('observer');
      },
      misses: () => {
        throw new Error('observer');
      },
    });
    expect(cache.get).not.toBe(get);
    expect(await cache.get('absent')).toBe(NONE);
    await settle();
    unhook();
    expect([cache.get, cache.mget, cache.wrap]).toEqual([get, mget, wrap]);
  });

  it('two observers of one cache share one hook; the last to leave restores it', async () => {
    const cache = asCache(createCache());
    const get = cache.get;
    const a = counting(cache);
    const hooked = cache.get;
    const b = counting(cache);
    expect(cache.get).toBe(hooked);
    await cache.get('absent');
    expect([a.misses, b.misses]).toEqual([1, 1]);
    a.unhook();
    expect(cache.get).toBe(hooked);
    b.unhook();
    expect(cache.get).toBe(get);
  });
});
