/**
 * The memory bound of the decorators' label caches (issue #12, item 2):
 * `node --expose-gc --no-warnings -r ./bench/http-register.js bench/memory-decorators.bench.ts`.
 *
 * 1. One cache, on its own: 2,000 distinct label values of 1 MB each (one label, then four), the
 *    heap after GC against the stated bound of a cache: 500 entries and 65,536 UTF-16 units of keys,
 *    under 512 KiB with the series it made.
 * 2. Through HTTP: a Fastify app whose decorated methods take their labels from the request body
 *    (ten decorator paths, fourteen caches); BENCH_VALUES (300) distinct 1 MB values; the heap after
 *    GC against the caches' bound plus what the series guard lets prom-client keep.
 */
import { Body, Controller, HttpCode, Injectable, Module, Post } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Counter } from 'prom-client';
import {
  CountErrors,
  CountOrder,
  Counted,
  CountWebSocketMessage,
  InProgress,
  Timed,
  TrackDbQuery,
  TrackHealthCheck,
  TrackUpload,
  VezaMetricsModule,
} from '../src';
import { SeriesCache } from '../src/explorer/labels';
import { counterSeries } from '../src/explorer/series';

const VALUES = Number(process.env.BENCH_VALUES ?? 300);
const MB = 1_000_000;
const CACHE_BOUND = 512 * 1024;
const MAX_SERIES = 100;

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');
const heap = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
};
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const verdict = (measured: number, limit: number): string => (measured <= limit ? 'met' : 'not met');

/** A distinct 1 MB value: its first 256 units differ from every other's. */
const big = (i: number, tag = ''): string => `${tag}${i}-`.padEnd(MB, 'x');

function oneCache(labelNames: string[]): number {
  const counter = new Counter({ name: 'bench_cache_total', help: 'x', labelNames, registers: [] });
  const cache = new SeriesCache(labelNames, (labels) => counterSeries(counter, labels));
  cache.get(Object.fromEntries(labelNames.map((n) => [n, 'warm'])));
  const before = heap();
  for (let i = 0; i < 2000; i++) cache.get(Object.fromEntries(labelNames.map((n) => [n, big(i, n)])));
  // A few short values, so that the last 1 MB arguments are not still held by the last frames.
  for (let i = 0; i < 10; i++) cache.get(Object.fromEntries(labelNames.map((n) => [n, `short${i}`])));
  return heap() - before;
}

const failure = (value: string): Error => Object.assign(new Error('refused'), { value });

@Injectable()
class Flooded {
  @Counted({
    name: 'app_flood_total',
    help: 'x',
    labelNames: ['value'],
    labels: ({ args: [v] }) => ({ value: v as string }),
  })
  counted(_v: string): void {}
  @Timed({
    name: 'app_flood_seconds',
    help: 'x',
    labelNames: ['value'],
    labels: ({ args: [v] }) => ({ value: v as string }),
  })
  timed(_v: string): void {}
  @InProgress({
    name: 'app_flood_in_flight',
    help: 'x',
    labelNames: ['value'],
    labels: (v: string) => ({ value: v }),
  })
  async inFlight(_v: string): Promise<void> {}
  @CountErrors({
    type: (e) => (e as { value: string }).value,
    severity: (e) => (e as { value: string }).value,
  })
  errors(v: string): void {
    throw failure(v);
  }
  @CountOrder()
  order(v: string): { status: string } {
    return { status: v };
  }
  @TrackUpload({ type: (v: string) => v, size: () => 1 })
  upload(_v: string): void {}
  @TrackUpload({ type: 'audio', failureReason: (e) => (e as { value: string }).value })
  uploadFailing(v: string): void {
    throw failure(v);
  }
  @TrackHealthCheck((v: string) => v)
  health(_v: string): void {}
  @CountWebSocketMessage((v: string) => v, { status: (r: string) => r })
  message(v: string): string {
    return v;
  }
  @TrackDbQuery('select', 'flood', { errorType: (e) => (e as { value: string }).value })
  query(v: string): void {
    throw failure(v);
  }
}
const CACHES = 14;
const SERIES_METRICS = 12;
/** A series of prom-client with 256-unit label values, its key and its buckets: measured under 4 KiB. */
const SERIES_BOUND = 4096;

@Controller('flood')
class FloodController {
  constructor(private readonly f: Flooded) {}
  @Post()
  @HttpCode(204)
  async flood(@Body() body: { value: string }): Promise<void> {
    const v = body.value;
    const f = this.f;
    const calls: Array<() => unknown> = [
      () => f.counted(v),
      () => f.timed(v),
      () => f.inFlight(v),
      () => f.errors(v),
      () => f.order(v),
      () => f.upload(v),
      () => f.uploadFailing(v),
      () => f.health(v),
      () => f.message(v),
      () => f.query(v),
    ];
    for (const call of calls) {
      try {
        await call();
      } catch {
        // On purpose.
      }
    }
  }
}

@Module({
  imports: [
    VezaMetricsModule.forRoot({ defaultMetrics: false, http: false, cardinality: { maxSeries: MAX_SERIES } }),
  ],
  controllers: [FloodController],
  providers: [Flooded],
})
class FloodModule {}

async function overHttp(): Promise<number> {
  const app = await NestFactory.create<NestFastifyApplication>(FloodModule, new FastifyAdapter(), {
    logger: false,
  });
  app.useBodyParser('application/json', { bodyLimit: 2 * MB });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  const post = async (value: string): Promise<void> => {
    const res = await fetch(`${url}/flood`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ value }),
    });
    await res.arrayBuffer();
  };
  await post('warm');
  const before = heap();
  for (let i = 0; i < VALUES; i++) await post(big(i));
  for (let i = 0; i < 10; i++) await post(`short${i}`);
  const grown = heap() - before;
  await app.close();
  return grown;
}

async function main(): Promise<void> {
  console.log(`\n## Decorator label caches, node ${process.version}\n`);
  console.log('| case | heap after GC | limit | |');
  console.log('|---|---:|---:|---|');
  for (const names of [['value'], ['a', 'b', 'c', 'd']]) {
    const grown = oneCache(names);
    console.log(
      `| one cache, ${names.length} label(s), 2,000 distinct 1 MB values | ${mib(grown)} | ${mib(CACHE_BOUND)} | ${verdict(grown, CACHE_BOUND)} |`,
    );
  }
  const grown = await overHttp();
  const limit = CACHES * CACHE_BOUND + SERIES_METRICS * (MAX_SERIES + 1) * SERIES_BOUND;
  console.log(
    `| Fastify, ${VALUES} distinct 1 MB values through 10 decorator paths (${CACHES} caches, cap ${MAX_SERIES} series) | ${mib(grown)} | ${mib(limit)} | ${verdict(grown, limit)} |`,
  );
}

void main();
