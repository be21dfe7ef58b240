/**
 * The memory bound of the queue recorder under job names from input (issue #21, item 1):
 * `node --expose-gc --no-warnings -r ./bench/http-register.js bench/memory-queues.bench.ts`.
 *
 * Needs a broker: a real redis-server is started on a free port (test/utils/brokers.ts), as the
 * queue specs do; a missing redis-server fails the bench.
 *
 * 1. One worker's cache of cells by job name, on its own: an app with the module and
 *    `cardinality.maxSeries: 1` (so that the client keeps next to no series), whose Worker emits
 *    `completed` for fresh bullmq `Job` objects in process (as bench/queues.bench.ts does): 20,000
 *    distinct short names (the cache keeps 10,000), then 2,000 distinct names of 100 KB (each cut
 *    holding a character outside Latin-1, so the cuts are two-byte strings). The heap after GC
 *    against the stated bound of one cache (`QUEUE_CACHE_BOUND_BYTES`).
 * 2. Through Redis: BENCH_JOBS (2,000) jobs with distinct 100 KB names added to a queue and run by
 *    the app's processor, the heap after GC before and after, for the same app without the module
 *    and with `VezaMetricsModule.forRoot()` (defaults: series cap 2,000). Target: the app with the
 *    module grows by no more than the app without it plus the recorder's bound (one cache, and the
 *    two families' series at the cap, 4 KiB each with 256-unit label values).
 */
import { Module } from '@nestjs/common';
import { BullModule, getQueueToken, Processor, WorkerHost } from '@nestjs/bullmq';
import { NestFactory } from '@nestjs/core';
import { Job, type Queue } from 'bullmq';
import { VezaMetricsModule } from '../src';
import { QUEUE_CACHE_BOUND_BYTES } from '../src/queues/queue-metrics.recorder';
import { startRedis } from '../test/utils/brokers';

const JOBS = Number(process.env.BENCH_JOBS ?? 2000);
const NAME_LENGTH = 100_000;
const QUEUE = 'uploads';
const DEFAULT_MAX_SERIES = 2000;
const SERIES_BYTES = 4096;

const collect = (globalThis as { gc?: () => void }).gc;
if (!collect) throw new Error('run with node --expose-gc');
const heap = (): number => {
  collect();
  collect();
  return process.memoryUsage().heapUsed;
};
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(2)} MiB`;
const verdict = (measured: number, limit: number): string => (measured <= limit ? 'met' : 'not met');

/** A distinct 100 KB name, as in the issue: its first 256 units differ from every other's. */
const bigName = (i: number): string => `upload-${i}-`.padEnd(NAME_LENGTH, 'x');
/** The same with an emoji: a two-byte string, whose cut takes twice the bytes (the cache's worst case). */
const wideName = (i: number): string => `upload-\u{1F600}-${i}-`.padEnd(NAME_LENGTH, 'x');

@Processor(QUEUE)
class UploadProcessor extends WorkerHost {
  process(_job: Job): Promise<void> {
    return Promise.resolve();
  }
}

function appModule(redisPort: number, veza: 'none' | 'default' | 'one-series'): new () => unknown {
  const metrics =
    veza === 'none'
      ? []
      : [
          VezaMetricsModule.forRoot(
            veza === 'default' ? {} : { defaultMetrics: false, cardinality: { maxSeries: 1 } },
          ),
        ];
  @Module({
    imports: [
      ...metrics,
      BullModule.forRoot({ connection: { host: '127.0.0.1', port: redisPort } }),
      BullModule.registerQueue({ name: QUEUE }),
    ],
    providers: [UploadProcessor],
  })
  class BenchModule {}
  return BenchModule;
}

/** Case 1: `count` attempts emitted in process, named `name(i)`; the heap after GC grown. */
async function oneCache(redisPort: number, count: number, name: (i: number) => string): Promise<number> {
  const app = await NestFactory.createApplicationContext(appModule(redisPort, 'one-series'), {
    logger: false,
  });
  await app.init();
  const worker = app.get(UploadProcessor).worker;
  const queue = app.get<Queue>(getQueueToken(QUEUE));
  await worker.pause(); // nothing is fetched from Redis: only the emitted attempts
  worker.emit('completed', new Job(queue, 'warm', null), undefined, 'active');
  const before = heap();
  for (let i = 0; i < count; i++)
    worker.emit('completed', new Job(queue, name(i), null), undefined, 'active');
  const grown = heap() - before;
  await app.close();
  return grown;
}

/** Case 2: `JOBS` jobs named `bigName(i)` through Redis; the heap after GC grown. */
async function throughRedis(redisPort: number, veza: 'none' | 'default'): Promise<number> {
  const app = await NestFactory.createApplicationContext(appModule(redisPort, veza), { logger: false });
  await app.init();
  const worker = app.get(UploadProcessor).worker;
  const queue = app.get<Queue>(getQueueToken(QUEUE));
  await queue.obliterate({ force: true });
  const run = async (count: number, name: (i: number) => string): Promise<void> => {
    const settled = new Promise<void>((resolve) => {
      let seen = 0;
      const one = (): void => {
        if (++seen < count) return;
        worker.off('completed', one);
        worker.off('failed', one);
        resolve();
      };
      worker.on('completed', one);
      worker.on('failed', one);
    });
    for (let i = 0; i < count; i++)
      await queue.add(name(i), null, { removeOnComplete: true, removeOnFail: true });
    await settled;
  };
  await run(10, (i) => `warm-${i}`);
  const before = heap();
  await run(JOBS, bigName);
  const grown = heap() - before;
  await app.close();
  return grown;
}

async function main(): Promise<void> {
  process.env.CI ??= 'true'; // a missing redis-server fails the bench rather than skipping it
  const redis = await startRedis();
  if (!redis) throw new Error('redis-server is required');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { benchClient } = require('./client-switch') as { benchClient: string };
    console.log(`\n## Queue job names from input, ${benchClient} (BENCH_CLIENT)\n`);
    console.log('| case | heap after GC | limit | |');
    console.log('|---|---:|---:|---|');
    const short = await oneCache(redis.port, 20_000, (i) => `job-${i}`);
    console.log(
      `| one worker's cache, 20,000 distinct short names | ${mib(short)} | ${mib(QUEUE_CACHE_BOUND_BYTES)} | ${verdict(short, QUEUE_CACHE_BOUND_BYTES)} |`,
    );
    const long = await oneCache(redis.port, 2000, wideName);
    console.log(
      `| one worker's cache, 2,000 distinct 100 KB names (two-byte) | ${mib(long)} | ${mib(QUEUE_CACHE_BOUND_BYTES)} | ${verdict(long, QUEUE_CACHE_BOUND_BYTES)} |`,
    );
    const bare = await throughRedis(redis.port, 'none');
    const veza = await throughRedis(redis.port, 'default');
    const limit = bare + QUEUE_CACHE_BOUND_BYTES + 2 * (DEFAULT_MAX_SERIES + 1) * SERIES_BYTES;
    console.log(
      `| heap after ${JOBS} jobs with 100 KB names, the app without the module | ${mib(bare)} | | |`,
    );
    console.log(
      `| heap after ${JOBS} jobs with 100 KB names, with VezaMetricsModule.forRoot() | ${mib(veza)} | ${mib(limit)} | ${verdict(veza, limit)} |`,
    );
    console.log(`(the names themselves: ${mib(JOBS * NAME_LENGTH)})`);
  } finally {
    await redis.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
