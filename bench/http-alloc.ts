/**
 * Heap bytes allocated per request by a trivial Nest route, bare and instrumented:
 * `node -r ./bench/http-register.js bench/http-alloc.ts <express|fastify> <bare|instrumented>`.
 *
 * The application runs in this process; autocannon, in a child process, sends the requests. After
 * a warm-up, V8's GC profiler records every collection while REQUESTS requests are served: the bytes
 * allocated are what the heap grew by between collections (used before each, minus used after the
 * previous) plus what it grew by since the last one. Prints one JSON line.
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { Session } from 'node:inspector';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import { Module, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { VezaMetricsModule } from '../src';
import { HelloController } from './hello.controller';

const WARMUP = Number(process.env.BENCH_ALLOC_WARMUP ?? 20000);
const REQUESTS = Number(process.env.BENCH_ALLOC_REQUESTS ?? 50000);

function appModule(variant: string): Type {
  @Module({
    imports: variant === 'instrumented' ? [VezaMetricsModule.forRoot()] : [],
    controllers: [HelloController],
  })
  class AllocModule {}
  return AllocModule;
}

function fire(url: string, amount: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [require.resolve('autocannon/autocannon.js'), '-c', '10', '-a', String(amount), '-j', url],
      {
        stdio: ['ignore', 'ignore', 'ignore'],
      },
    );
    child.on('exit', (code) =>
      code === 0 ? resolve() : reject(new Error(`autocannon exited with ${code}`)),
    );
  });
}

async function main(): Promise<void> {
  const [adapter = 'fastify', variant = 'bare'] = process.argv.slice(2);
  const module = appModule(variant);
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), {
          logger: process.env.BENCH_LOG ? undefined : false,
        })
      : await NestFactory.create(module, { logger: process.env.BENCH_LOG ? undefined : false });
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}/`;

  await fire(url, WARMUP);
  const sampler = process.env.BENCH_ALLOC_SITES ? await startSampling() : undefined;
  const profiler = new GCProfiler();
  const startUsed = getHeapStatistics().used_heap_size;
  profiler.start();
  await fire(url, REQUESTS);
  const endUsed = getHeapStatistics().used_heap_size;
  const { statistics } = profiler.stop();

  let allocated = 0;
  let previous = startUsed;
  for (const gc of statistics) {
    allocated += gc.beforeGC.heapStatistics.usedHeapSize - previous;
    previous = gc.afterGC.heapStatistics.usedHeapSize;
  }
  allocated += endUsed - previous;
  if (sampler) await printSites(sampler, REQUESTS);
  process.stdout.write(
    `${JSON.stringify({ adapter, variant, requests: REQUESTS, bytesPerRequest: allocated / REQUESTS, gcs: statistics.length })}\n`,
  );
  await app.close();
}

interface SampleNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SampleNode[];
}

/** V8's sampling heap profiler, keeping the samples of objects already collected (short-lived garbage). */
async function startSampling(): Promise<Session> {
  const session = new Session();
  session.connect();
  const post = (method: string, params?: object): Promise<unknown> =>
    new Promise((resolve, reject) =>
      session.post(method, params, (err, res) => (err ? reject(err) : resolve(res))),
    );
  await post('HeapProfiler.startSampling', {
    samplingInterval: 32,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: true,
  });
  return session;
}

/** Prints the allocation sites in the library's `src/` (or in Node built-ins it called), bytes per request. */
async function printSites(session: Session, requests: number): Promise<void> {
  const profile = await new Promise<{ profile: { head: SampleNode } }>((resolve, reject) =>
    session.post('HeapProfiler.stopSampling', (err, res) => (err ? reject(err) : resolve(res))),
  );
  const sites = new Map<string, number>();
  const walk = (node: SampleNode, stack: string[]): void => {
    const { functionName, url, lineNumber } = node.callFrame;
    const here = [
      ...stack,
      `${functionName || '(anonymous)'} ${url.replace(/^.*\/(node_modules|src)\//, '$1/')}:${lineNumber + 1}`,
    ];
    // Allocations made by the library's code, or by Node built-ins it called (not by the adapter code it calls).
    let ours = -1;
    for (let i = here.length - 1; i >= 0 && ours < 0; i--) {
      if (/ src\//.test(here[i])) ours = i;
      else if (/ node_modules\//.test(here[i])) break;
    }
    if (node.selfSize > 0 && ours >= 0) {
      const key = here.slice(ours).join(' > ');
      sites.set(key, (sites.get(key) ?? 0) + node.selfSize);
    }
    for (const child of node.children) walk(child, here);
  };
  walk(profile.profile.head, []);
  for (const [site, bytes] of [...sites].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    process.stdout.write(`  ${(bytes / requests).toFixed(1).padStart(7)} B/req  ${site}\n`);
  }
  session.disconnect();
}

void main();
