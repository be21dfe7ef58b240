/**
 * `node --expose-gc --no-warnings -r ./bench/http-register.js bench/memory-scrape.bench.ts`: the
 * off-heap memory that scrapers which never read can pin (issue #12 item 6: 50 of them pinned
 * +331 MB), on Express and Fastify with the default scrape limits.
 *
 * An 8 MiB exposition; BENCH_READERS (50) clients, each from an address of its own (so that no fair
 * share per client applies: the worst case), open a scrape and stop reading. Printed: the growth
 * of `process.memoryUsage().arrayBuffers` after GC while they hang on, against the stated bound
 * (`scrape.maxBytesInFlight`, 32 MiB, plus 4 MiB for socket buffers); then the same once the send
 * timeout (10 s) has cut them off, against 4 MiB. BENCH_ADAPTER=express|fastify runs one.
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { VezaMetricsModule, VezaMetricsRegistry } from '../src';
import { bigExposition, slowScrape, type SlowScrape } from '../test/utils/slow-scraper';

const MiB = 2 ** 20;
const READERS = Number(process.env.BENCH_READERS ?? 50);
const BOUND = 32 * MiB;
const SLACK = 4 * MiB;

const BigExposition = bigExposition(40_000);

@Module({ imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })], providers: [BigExposition] })
class BenchModule {}

/** Off-heap bytes after full collections (Buffers' memory is freed on the collection after they die). */
async function offHeap(): Promise<number> {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with node --expose-gc');
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return process.memoryUsage().arrayBuffers;
}

const verdict = (measured: number, limit: number): string =>
  `${(measured / MiB).toFixed(1)} MiB (limit ${(limit / MiB).toFixed(0)} MiB): ${measured <= limit ? 'met' : 'not met'}`;

async function run(adapter: 'express' | 'fastify'): Promise<void> {
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(BenchModule, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(BenchModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  const size = (await app.get(VezaMetricsRegistry).renderBytes()).length;
  const before = await offHeap();
  const readers: SlowScrape[] = [];
  const statuses: Record<number, number> = {};
  for (let i = 0; i < READERS; i++) {
    const reader = slowScrape(url, '/metrics', {
      reading: 'paused',
      localAddress: `127.0.${1 + (i >> 8)}.${2 + (i & 255)}`,
    });
    readers.push(reader);
    const status = await reader.status.catch(() => 0);
    statuses[status] = (statuses[status] ?? 0) + 1;
  }
  const held = (await offHeap()) - before;
  await new Promise((resolve) => setTimeout(resolve, 11_000));
  const after = (await offHeap()) - before;
  readers.forEach((r) => r.destroy());
  console.log(
    `\n## ${READERS} scrapers that stop reading (${adapter}, ${(size / MiB).toFixed(1)} MiB of exposition, default limits)`,
  );
  console.log(
    `- answers: ${Object.entries(statuses)
      .map(([s, n]) => `${s} ×${n}`)
      .join(', ')}`,
  );
  console.log(`- off-heap growth while they hang on: ${verdict(held, BOUND + SLACK)}`);
  console.log(`- off-heap growth once the send timeout (10 s) cut them off: ${verdict(after, SLACK)}`);
  await app.close();
}

async function main(): Promise<void> {
  console.log(`# memory-scrape (node ${process.version}, ${new Date().toISOString()})`);
  if (process.env.BENCH_ADAPTER !== 'fastify') await run('express');
  if (process.env.BENCH_ADAPTER !== 'express') await run('fastify');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
