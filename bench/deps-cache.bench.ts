/**
 * `npm run bench:deps:cache`: the CPU one cache read costs with the module's cache recorder, against
 * the same application without the module (issue #23: target ≤ 1 µs added per cache read).
 *
 * Two Nest application contexts of `CacheModule.register()` (cache-manager with its in-memory Keyv)
 * run in this process, one with `VezaMetricsModule.forRoot()` and one without the module. Each read
 * is what a service does through `@Inject(CACHE_MANAGER)`: `get` of a present key (a hit), of an
 * absent one (a miss), `mget` of one present and one absent key, and `wrap` of a present key,
 * awaited. Rounds alternate bare and recorded (BENCH_ROUNDS, 21; each BENCH_READS, 20,000 reads);
 * the median of the paired differences of process CPU time per read is the cost added. The hits and
 * misses the recorder counted are checked against the reads made (exact).
 *
 *   node --no-warnings -r ./bench/http-register.js bench/deps-cache.bench.ts
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CACHE_MANAGER, CacheModule, type Cache } from '@nestjs/cache-manager';
import { VezaMetricsModule, VezaMetricsRegistry } from '../src';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const READS = Number(process.env.BENCH_READS ?? 20_000);
const TARGET_NS = 1000;

interface Context {
  cache: Cache;
  registry?: VezaMetricsRegistry;
  close(): Promise<void>;
}

async function context(withModule: boolean): Promise<Context> {
  @Module({
    imports: [
      ...(withModule ? [VezaMetricsModule.forRoot({ defaultMetrics: false })] : []),
      CacheModule.register(),
    ],
  })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  const cache = app.get<Cache>(CACHE_MANAGER);
  await cache.set('present', { track: 1 });
  return {
    cache,
    registry: withModule ? app.get(VezaMetricsRegistry) : undefined,
    close: () => app.close(),
  };
}

type Read = (cache: Cache) => Promise<unknown>;

/** One round: `READS` awaited reads; CPU ns per read. */
async function round(cache: Cache, read: Read): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < READS; i++) await read(cache);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / READS;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const made = (): Promise<unknown> => Promise.resolve({ track: 2 });

async function main(): Promise<void> {
  const bare = await context(false);
  const recorded = await context(true);
  // [label, read, hits per read, misses per read]
  const cases: Array<[string, Read, number, number]> = [
    ['get, hit', (c) => c.get('present'), 1, 0],
    ['get, miss', (c) => c.get('absent'), 0, 1],
    ['mget, 1 hit + 1 miss', (c) => c.mget(['present', 'absent']), 1, 1],
    ['wrap, hit', (c) => c.wrap('present', made), 1, 0],
  ];
  let met = true;
  let hits = 0;
  let misses = 0;
  for (const [label, read, h, m] of cases) {
    const b: number[] = [];
    const r: number[] = [];
    await round(bare.cache, read);
    await round(recorded.cache, read);
    for (let i = 0; i < ROUNDS; i++) {
      b.push(await round(bare.cache, read));
      r.push(await round(recorded.cache, read));
    }
    hits += h * (ROUNDS + 1) * READS;
    misses += m * (ROUNDS + 1) * READS;
    // Rounds alternate, so each recorded round is compared with the bare round just before it.
    const added = median(r.map((x, i) => x - b[i]));
    const ok = added <= TARGET_NS;
    met &&= ok;
    console.log(
      `${label.padEnd(22)} without ${median(b).toFixed(0).padStart(6)} ns  with ${median(r).toFixed(0).padStart(6)} ns  ` +
        `added ${added.toFixed(0).padStart(5)} ns  target ≤ ${TARGET_NS} ns: ${ok ? 'met' : 'not met'}`,
    );
  }
  const text = (await recorded.registry?.render()) ?? '';
  const value = (name: string): number =>
    Number(
      / (\d+)$/.exec(text.split('\n').find((l) => l.startsWith(`${name}{subsystem="memory"}`)) ?? '')?.[1],
    );
  const counted = { hits: value('veza_cache_hits_total'), misses: value('veza_cache_misses_total') };
  const exact = counted.hits === hits && counted.misses === misses;
  console.log(
    `reads counted: ${counted.hits} hits of ${hits}, ${counted.misses} misses of ${misses} (${exact ? 'exact' : 'NOT exact'})`,
  );
  console.log(`CPU added per cache read: ${met ? 'met' : 'not met'}`);
  await bare.close();
  await recorded.close();
}

void main();
