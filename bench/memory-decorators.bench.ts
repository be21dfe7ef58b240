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
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Counter } from 'prom-client';
import { CellCache } from '../src/instrumentation/labels';
import { counterCell } from '../src/instrumentation/cells';
import {
  CACHE_BOUND_BYTES,
  FLOOD_CACHES,
  FLOOD_PATHS,
  FLOOD_SERIES,
  floodModule,
  postFlood,
} from '../test/utils/flood-app';

const VALUES = Number(process.env.BENCH_VALUES ?? 300);
const MB = 1_000_000;
const CACHE_BOUND = CACHE_BOUND_BYTES;
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
  const cache = new CellCache(labelNames, (labels) => counterCell(counter, labels));
  cache.get(Object.fromEntries(labelNames.map((n) => [n, 'warm'])));
  const before = heap();
  for (let i = 0; i < 2000; i++) cache.get(Object.fromEntries(labelNames.map((n) => [n, big(i, n)])));
  // A few short values, so that the last 1 MB arguments are not still held by the last frames.
  for (let i = 0; i < 10; i++) cache.get(Object.fromEntries(labelNames.map((n) => [n, `short${i}`])));
  return heap() - before;
}

const CACHES = FLOOD_CACHES;
const SERIES_METRICS = FLOOD_SERIES.length;
/** A series of prom-client with 256-unit label values, its key and its buckets: measured under 4 KiB. */
const SERIES_BOUND = 4096;

async function overHttp(): Promise<number> {
  const app = await NestFactory.create<NestFastifyApplication>(
    floodModule(MAX_SERIES),
    new FastifyAdapter(),
    {
      logger: false,
    },
  );
  app.useBodyParser('application/json', { bodyLimit: 2 * MB });
  await app.listen(0, '127.0.0.1');
  const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
  const post = (value: string): Promise<void> => postFlood(url, value);
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
    `| Fastify, ${VALUES} distinct 1 MB values through ${FLOOD_PATHS} decorator paths (${CACHES} caches, cap ${MAX_SERIES} series) | ${mib(grown)} | ${mib(limit)} | ${verdict(grown, limit)} |`,
  );
}

void main();
