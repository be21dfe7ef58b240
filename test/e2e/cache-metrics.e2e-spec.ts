/**
 * Issue #23, item 2: the reads of `@nestjs/cache-manager` caches counted with `forRoot()` alone.
 * Real Nest applications over real HTTP, on Express and on Fastify: direct `@Inject(CACHE_MANAGER)`
 * reads (`get`, `mget`, `wrap`), `CacheInterceptor` on a GET route, an in-memory Keyv and a Redis
 * store (@keyv/redis on a real redis-server started by the spec) each under its own subsystem, a
 * store that fails (neither, and the application gets exactly what it gets without the module),
 * and `cache: false`.
 */
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Module,
  Param,
  Post,
  Put,
  UseInterceptors,
  type DynamicModule,
  type INestApplication,
} from '@nestjs/common';
import { CACHE_MANAGER, CacheInterceptor, CacheModule, type Cache } from '@nestjs/cache-manager';
import KeyvRedis from '@keyv/redis';
import { Keyv } from 'keyv';
import { VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { ADAPTERS, scrape, startApp, type AdapterKind } from '../utils/app';
import { startRedis, type Broker } from '../utils/brokers';
import { parseExposition, sampleValue } from '../utils/exposition';
import { rawRequest } from '../utils/raw-http';

jest.setTimeout(120_000);

const HITS = 'veza_cache_hits_total';
const MISSES = 'veza_cache_misses_total';

/** The routes of one cache: direct reads and writes through `@Inject(CACHE_MANAGER)`. */
function cacheController(prefix: string): new (cache: Cache) => unknown {
  @Controller(prefix)
  class CacheController {
    private made = 0;
    constructor(@Inject(CACHE_MANAGER) readonly cache: Cache) {}

    @Put(':key')
    async put(@Param('key') key: string): Promise<{ stored: string }> {
      return { stored: await this.cache.set(key, `value-of-${key}`) };
    }

    @Get('get/:key')
    async get(@Param('key') key: string): Promise<{ value: unknown }> {
      return { value: (await this.cache.get(key)) ?? null };
    }

    @Post('mget')
    @HttpCode(200)
    async mget(@Body() body: { keys: string[] }): Promise<{ values: unknown[] }> {
      return { values: (await this.cache.mget(body.keys)).map((v) => v ?? null) };
    }

    @Get('wrap/:key')
    async wrap(@Param('key') key: string): Promise<{ value: unknown }> {
      return { value: await this.cache.wrap(key, () => Promise.resolve(`made-${++this.made}`)) };
    }

    @Get('wrap-fails/:key')
    async wrapFails(@Param('key') key: string): Promise<{ error: string }> {
      try {
        await this.cache.wrap(key, () => Promise.reject(new Error(`no value for ${key}`)));
        return { error: 'none' };
      } catch (error) {
        return { error: (error as Error).message };
      }
    }

    @Put('fails/:key')
    async putFails(@Param('key') key: string): Promise<{ error: string }> {
      try {
        await this.cache.set(key, 'v');
        return { error: 'none' };
      } catch (error) {
        return { error: (error as Error).message };
      }
    }

    @Get('cached')
    @UseInterceptors(CacheInterceptor)
    cached(): { made: number } {
      return { made: ++this.made };
    }
  }
  return CacheController;
}

/** Keyv stores as `CacheModule.register()` takes them (keyv's CommonJS and ESM typings differ). */
const stores = (...list: unknown[]): never => list as never;

/** A module with a cache of its own (`CacheModule.register(options)`) and its routes under `prefix`. */
function cacheFeature(
  prefix: string,
  options: Parameters<typeof CacheModule.register>[0] = {},
): DynamicModule {
  @Module({})
  class Feature {}
  return {
    module: Feature,
    imports: [CacheModule.register(options)],
    controllers: [cacheController(prefix)],
  };
}

function appModule(features: DynamicModule[], metrics: VezaMetricsModuleOptions | undefined): DynamicModule {
  @Module({})
  class AppModule {}
  return {
    module: AppModule,
    imports: [...(metrics ? [VezaMetricsModule.forRoot(metrics)] : []), ...features],
  };
}

async function call(url: string, method: string, path: string, body?: unknown): Promise<unknown> {
  const res = await rawRequest(url, path, {
    method,
    ...(body === undefined
      ? {}
      : { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } }),
  });
  if (res.status !== 200)
    throw new Error(`${method} ${path} answered ${res.status}: ${res.body.slice(0, 200)}`);
  return JSON.parse(res.body);
}

/** Every sample of `name`, as `subsystem=value` lines. */
function samplesOf(text: string, name: string): string[] {
  const family = parseExposition(text).get(name);
  return (family?.samples ?? []).map((s) => `${s.labels.subsystem}=${s.value}`).sort();
}

/**
 * A Keyv whose store fails every call, as a lost Redis does, with `throwOnErrors` (without it, Keyv
 * itself answers a failed `get` with `undefined`, a miss to everyone: docs/caches.md).
 */
function failingStore(): Keyv {
  const fail = (): Promise<never> => Promise.reject(new Error('store down'));
  const adapter = {
    get: fail,
    getMany: fail,
    set: fail,
    delete: fail,
    clear: fail,
    on: () => adapter,
  };
  return new Keyv({ store: adapter, namespace: 'failing', throwOnErrors: true });
}

describe.each(ADAPTERS)('cache reads on %s', (adapter: AdapterKind) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  async function start(features: DynamicModule[], metrics: VezaMetricsModuleOptions | undefined = {}) {
    const started = await startApp(adapter, { imports: [appModule(features, metrics)] });
    app = started.app;
    return started.url;
  }

  it('1 write, 3 hits and 5 misses through CACHE_MANAGER: exactly 3 hits and 5 misses of the memory cache', async () => {
    const url = await start([cacheFeature('c')]);
    expect(await call(url, 'PUT', '/c/k1')).toEqual({ stored: 'value-of-k1' });
    for (let i = 0; i < 3; i++) expect(await call(url, 'GET', '/c/get/k1')).toEqual({ value: 'value-of-k1' });
    for (let i = 0; i < 5; i++) expect(await call(url, 'GET', `/c/get/absent-${i}`)).toEqual({ value: null });
    const text = await scrape(url);
    expect(text).toContain(`${HITS}{subsystem="memory"} 3\n`);
    expect(text).toContain(`${MISSES}{subsystem="memory"} 5\n`);
    expect(samplesOf(text, HITS)).toEqual(['memory=3']);
    expect(samplesOf(text, MISSES)).toEqual(['memory=5']);
  });

  it('CacheInterceptor on a GET route: the first request a miss (and a write), the next three hits', async () => {
    const url = await start([cacheFeature('c', { stores: stores(new Keyv({ namespace: 'pages' })) })]);
    for (let i = 0; i < 4; i++) expect(await call(url, 'GET', '/c/cached')).toEqual({ made: 1 });
    const text = await scrape(url);
    expect(samplesOf(text, HITS)).toEqual(['pages=3']);
    expect(samplesOf(text, MISSES)).toEqual(['pages=1']);
  });

  it('mget counts per key; wrap is a miss when it ran the function and a hit when it returned the stored value', async () => {
    const url = await start([cacheFeature('c')]);
    await call(url, 'PUT', '/c/a');
    await call(url, 'PUT', '/c/b');
    expect(await call(url, 'POST', '/c/mget', { keys: ['a', 'x', 'b', 'y', 'z'] })).toEqual({
      values: ['value-of-a', null, 'value-of-b', null, null],
    });
    expect(await call(url, 'GET', '/c/wrap/w')).toEqual({ value: 'made-1' });
    expect(await call(url, 'GET', '/c/wrap/w')).toEqual({ value: 'made-1' });
    expect(await call(url, 'GET', '/c/wrap/w')).toEqual({ value: 'made-1' });
    const text = await scrape(url);
    expect(samplesOf(text, HITS)).toEqual(['memory=4']);
    expect(samplesOf(text, MISSES)).toEqual(['memory=4']);
  });

  it('a failing store and a failing wrap function: neither, and the app gets exactly what it gets without the module', async () => {
    const script = async (url: string): Promise<unknown[]> => [
      await call(url, 'GET', '/f/get/k'),
      await call(url, 'PUT', '/f/fails/k'),
      await call(url, 'POST', '/f/mget', { keys: ['k', 'l'] }),
      await call(url, 'GET', '/m/wrap-fails/k'),
      await call(url, 'GET', '/m/wrap-fails/k'),
    ];
    const features = (): DynamicModule[] => [
      cacheFeature('f', { stores: stores(failingStore()) }),
      cacheFeature('m'),
    ];
    const bare = await script(await start(features(), undefined));
    await app?.close();
    const url = await start(features());
    const measured = await script(url);
    expect(measured).toEqual(bare);
    expect(measured).toEqual([
      { value: null },
      { error: 'store down' },
      { values: [null, null] },
      { error: 'no value for k' },
      { error: 'no value for k' },
    ]);
    const text = await scrape(url);
    expect(samplesOf(text, HITS)).toEqual([]);
    expect(samplesOf(text, MISSES)).toEqual([]);
  });

  it('cache: false records nothing and leaves the cache as it was', async () => {
    const url = await start([cacheFeature('c')], { cache: false });
    const manager = app!.get<Cache>(CACHE_MANAGER, { strict: false });
    const own = Object.getOwnPropertyDescriptor(manager, 'get')?.value as unknown;
    await call(url, 'PUT', '/c/k1');
    await call(url, 'GET', '/c/get/k1');
    await call(url, 'GET', '/c/get/absent');
    await call(url, 'GET', '/c/cached');
    const text = await scrape(url);
    expect(samplesOf(text, HITS)).toEqual([]);
    expect(samplesOf(text, MISSES)).toEqual([]);
    expect((own as { name?: string }).name).toBe('get');
  });

  describe('with a Redis store', () => {
    let redis: Broker | undefined;
    beforeAll(async () => {
      redis = await startRedis();
    });
    afterAll(async () => {
      await redis?.stop();
    });

    it('a per-module Redis cache and a memory cache: each counted exactly under its own subsystem', async () => {
      if (!redis) return;
      const url = await start([
        cacheFeature('c'),
        cacheFeature('r', { stores: stores(new KeyvRedis(redis.url)) }),
      ]);
      const run = `${adapter}-${Date.now()}`;
      await call(url, 'PUT', `/r/${run}`);
      for (let i = 0; i < 3; i++)
        expect(await call(url, 'GET', `/r/get/${run}`)).toEqual({ value: `value-of-${run}` });
      for (let i = 0; i < 5; i++)
        expect(await call(url, 'GET', `/r/get/${run}-absent-${i}`)).toEqual({ value: null });
      await call(url, 'GET', '/c/get/absent');
      const text = await scrape(url);
      expect(sampleValue(text, HITS, { subsystem: 'redis' })).toBe(3);
      expect(sampleValue(text, MISSES, { subsystem: 'redis' })).toBe(5);
      expect(samplesOf(text, HITS)).toEqual(['redis=3']);
      expect(samplesOf(text, MISSES)).toEqual(['memory=1', 'redis=5']);
    });
  });
});
