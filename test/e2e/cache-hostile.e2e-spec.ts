/**
 * Issue #23, never harm: cache keys from request input. A real Nest application (Express and
 * Fastify) reads its `@nestjs/cache-manager` cache with keys the client chooses: 300 distinct keys of
 * 100 KB each, one at a time through `get` and all at once through `mget`. Every read is counted
 * (exactly), the cache families keep one series each, and the heap after GC grows by less than the
 * keys would take if anything kept them: the recorder keeps nothing per key.
 */
import { Body, Controller, HttpCode, Inject, Module, Post, type INestApplication } from '@nestjs/common';
import { CACHE_MANAGER, CacheModule, type Cache } from '@nestjs/cache-manager';
import { VezaMetricsModule } from '../../src';
import { ADAPTERS, scrape, startApp, type AdapterKind } from '../utils/app';
import { parseExposition } from '../utils/exposition';
import { collector, heapAfterGc } from '../utils/memory';
import { rawRequest } from '../utils/raw-http';

jest.setTimeout(240_000);

const KEYS = 300;
/** A key in the spirit: 100 KB. */
const KEY_LENGTH = 100_000;
/** All keys, kept once as two-byte units: 60 MB. */
const KEYS_BYTES = KEYS * KEY_LENGTH * 2;
/** The noise of one process running Nest and Jest. */
const NOISE = 8 * 2 ** 20;

@Controller()
class LookupController {
  constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}

  @Post('lookup')
  @HttpCode(200)
  async lookup(@Body() body: { key: string }): Promise<{ found: boolean }> {
    // cache-manager 7 resolves undefined for none found, 6 null.
    return { found: ((await this.cache.get(body.key)) ?? undefined) !== undefined };
  }

  @Post('lookup-many')
  @HttpCode(200)
  async lookupMany(@Body() body: { keys: string[] }): Promise<{ found: number }> {
    return { found: (await this.cache.mget(body.keys)).filter((v) => (v ?? undefined) !== undefined).length };
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot(), CacheModule.register()],
  controllers: [LookupController],
})
class HostileModule {}

/** A distinct 100 KB key (two-byte units in half of them). */
const keyOf = (i: number): string => `${i}-`.padEnd(KEY_LENGTH, i % 2 === 0 ? 'k' : '\u00e9');

async function post(url: string, path: string, body: unknown): Promise<unknown> {
  const res = await rawRequest(url, path, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
  if (res.status !== 200) throw new Error(`POST ${path} answered ${res.status}: ${res.body.slice(0, 200)}`);
  return JSON.parse(res.body);
}

/** Every series of the cache families, as `name{subsystem} value`. */
function cacheSeries(text: string): string[] {
  const out: string[] = [];
  for (const [name, family] of parseExposition(text))
    if (name.startsWith('veza_cache_'))
      for (const s of family.samples) out.push(`${s.name}{${s.labels.subsystem}} ${s.value}`);
  return out.sort();
}

describe.each(ADAPTERS)('hostile cache keys on %s', (adapter: AdapterKind) => {
  let app: INestApplication | undefined;
  afterEach(async () => {
    await app?.close();
    app = undefined;
  });

  it(`${KEYS} distinct 100 KB keys through get and mget: counted exactly, one series per family, the heap grows by less than the keys`, async () => {
    const gc = collector();
    // Bodies of a few MB: the keys are what the client sends.
    const started = await startApp(adapter, { imports: [HostileModule] }, (nest) => {
      const parsing = nest as unknown as { useBodyParser(type: string, options: object): void };
      if (adapter === 'express') parsing.useBodyParser('json', { limit: '8mb' });
      else parsing.useBodyParser('application/json', { bodyLimit: 8 * 2 ** 20 });
    });
    app = started.app;
    const { url } = started;
    // Warm the routes and the families once, then measure.
    await post(url, '/lookup', { key: 'warm' });
    await scrape(url);
    const before = heapAfterGc(gc);
    for (let i = 0; i < KEYS; i++)
      expect(await post(url, '/lookup', { key: keyOf(i) })).toEqual({ found: false });
    const batch = Array.from({ length: 30 }, (_, i) => keyOf(KEYS + i));
    expect(await post(url, '/lookup-many', { keys: batch })).toEqual({ found: 0 });
    const after = heapAfterGc(gc);
    const text = await scrape(url);
    expect(cacheSeries(text)).toEqual([`veza_cache_misses_total{memory} ${1 + KEYS + 30}`]);
    expect(after - before).toBeLessThan(NOISE);
    expect(NOISE).toBeLessThan(KEYS_BYTES / 4);
  });
});
