/**
 * The route URL of a Fastify request, read two ways (src/compat/fastify.ts, F1):
 * `node -r ./bench/http-register.js bench/fastify-route-url.ts <symbol|public>` (one way per process,
 * so that neither shapes the other's optimized code).
 *
 * A Nest application on Fastify answers one real request to a templated route; its request object
 * is kept, and the route URL is then read from it ITERATIONS times through the route context symbol
 * (what the recorder does) and through `request.routeOptions.url` (Fastify's public getter). Prints
 * the median nanoseconds per read over ROUNDS and the heap bytes allocated per read (V8's heap
 * statistics around a loop, GC counted by GCProfiler), one JSON line per way.
 */
import 'reflect-metadata';
import { Controller, Get, Module, Param } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { publicRouteUrl, RouteUrlReader, type FastifyRequestLike } from '../src/compat/fastify';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 2_000_000);
const ROUNDS = 5;

@Controller('tracks')
class TracksController {
  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Module({ controllers: [TracksController] })
class UrlModule {}

let sink = 0;

function nsPerRead(read: () => string | undefined): number {
  const results: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) sink += read()?.length ?? 0;
    results.push(Number(process.hrtime.bigint() - start) / ITERATIONS);
  }
  results.sort((a, b) => a - b);
  return results[ROUNDS >> 1];
}

function bytesPerRead(read: () => string | undefined): number {
  const profiler = new GCProfiler();
  const startUsed = getHeapStatistics().used_heap_size;
  profiler.start();
  for (let i = 0; i < ITERATIONS; i++) sink += read()?.length ?? 0;
  const endUsed = getHeapStatistics().used_heap_size;
  let allocated = 0;
  let previous = startUsed;
  for (const gc of profiler.stop().statistics) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - previous;
    previous = gc.afterGC.heapStatistics.usedHeapSize;
  }
  return (allocated + endUsed - previous) / ITERATIONS;
}

async function main(): Promise<void> {
  const app = await NestFactory.create(UrlModule, new FastifyAdapter(), { logger: false });
  const instance = app.getHttpAdapter().getInstance() as {
    addHook(name: string, hook: (request: unknown, reply: unknown, done: () => void) => void): void;
    version: string;
  };
  let seen: FastifyRequestLike | undefined;
  instance.addHook('onResponse', (request, _reply, done) => {
    seen = request as FastifyRequestLike;
    done();
  });
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as { port: number };
  const response = await fetch(`http://127.0.0.1:${port}/tracks/7`);
  await response.text();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const request = seen;
  if (request === undefined) throw new Error('Fastify ran no onResponse hook');
  const reader = new RouteUrlReader((why) => {
    throw new Error(`the internal read fell back: ${why}`);
  });
  const ways: Record<string, () => string | undefined> = {
    'symbol (RouteUrlReader)': () => reader.read(request),
    'request.routeOptions.url': () => publicRouteUrl(request),
  };
  const chosen = process.argv[2] === 'public' ? 'request.routeOptions.url' : 'symbol (RouteUrlReader)';
  for (const [way, read] of Object.entries(ways).filter(([name]) => name === chosen)) {
    if (read() !== '/tracks/:id') throw new Error(`${way} read ${String(read())}`);
    const ns = nsPerRead(read);
    const bytes = bytesPerRead(read);
    process.stdout.write(
      `${JSON.stringify({ fastify: instance.version, node: process.version, way, nsPerRead: Number(ns.toFixed(1)), bytesPerRead: Number(bytes.toFixed(1)) })}\n`,
    );
  }
  await app.close();
  if (sink === -1) console.log(sink);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
