/**
 * The CPU time the library's own HTTP recording code takes per request, measured in-process:
 * `node -r ./bench/http-register.js bench/http-cost.ts`. Prints one JSON line,
 * `{ "express": ns, "fastify": ns, "cpu": { "express": ns, "fastify": ns } }`: wall-clock and
 * CPU-time nanoseconds per request (on a loaded machine the CPU time moves less: time spent
 * descheduled is left out).
 *
 * End-to-end ratios on a shared VM move by several percent from run to run; this figure does not
 * depend on the load generator or on neighbours, and bench/http.bench.js sets it against the bare
 * server's CPU time per request. For each adapter, an application with `VezaMetricsModule.forRoot()`
 * (defaults: exemplars on, `@opentelemetry/api` installed) answers one real request, whose request
 * and response objects are kept. The library's hooks are then installed once more, with the
 * application's recorder as their sink, and called on those objects ITERATIONS times, exactly as
 * the adapter calls them for each request:
 *
 * - Fastify: the wrapper put around Fastify's `request` listener, the `onRequest`
 *   hook (claims the request during that call) and the `onResponse` hook (records the response);
 * - Express: the wrapped `handle` (takes a clock slot, listens for `close`), then the response's
 *   `close` event (which records it, the route's template checked against mounted routers as the
 *   adapter does). The loop also removes that listener, which a real request does
 *   not pay for (its response object is dropped instead), so the figure errs on the high side.
 *
 * What the adapter itself spends calling hooks at all is in the end-to-end `noop-hooks` variant.
 * BENCH_ROUTE_URL=public reads Fastify's route URL through `request.routeOptions.url` instead of the
 * route context (src/compat/fastify.ts, F1), to weigh the two.
 */
import 'reflect-metadata';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { VezaMetric, VezaMetricsModule } from '../src';
import { HelloController } from './hello.controller';
import { VezaMetricsRegistry } from '../src/registry/veza-metrics.registry';
import { HttpMetricsRecorder } from '../src/http/http-metrics.recorder';
import { RouteUrlReader } from '../src/compat/fastify';
import { hookFastify } from '../src/http/adapters/fastify';
import { hookNodeServer } from '../src/http/adapters/express';
import { ExpressEndpoints } from '../src/http/adapters/express-endpoints';
import type { RecordResponse } from '../src/http/adapters/http-adapter-recorder';
import { ExemplarTraces } from '../src/tracing/exemplar-traces';
import { layoutOf } from '../src/compat/metrics-client';
import { nativeConfigOf, nativeSnapshotOf } from '../src/native/native-histogram';
import { cpuNsPer, median } from './paired-cpu';

const ITERATIONS = Number(process.env.BENCH_COST_ITERATIONS ?? 2_000_000);
const ROUNDS = 5;

@Module({ imports: [VezaMetricsModule.forRoot()], controllers: [HelloController] })
class CostModule {}

/** The same application with native histograms: the duration histogram also files its native part. */
@Module({ imports: [VezaMetricsModule.forRoot({ nativeHistograms: true })], controllers: [HelloController] })
class NativeCostModule {}

type CostModuleClass = typeof CostModule | typeof NativeCostModule;

/** An application's recording, ready to be called once per simulated request; `finish` checks and closes. */
interface Prepared {
  step(): void;
  finish(calls: number): Promise<void>;
}

type Hook = (...args: never[]) => unknown;
type Called = (...args: unknown[]) => unknown;

async function oneRequest(app: INestApplication): Promise<void> {
  const { port } = app.getHttpServer().address() as { port: number };
  const response = await fetch(`http://127.0.0.1:${port}/`);
  if (response.status !== 200) throw new Error(`GET / answered ${response.status}`);
  await response.text();
  await new Promise((resolve) => setTimeout(resolve, 20));
}

function sinkOf(app: INestApplication): RecordResponse {
  const recorder = app.get(HttpMetricsRecorder);
  return (method, template, status, durationMs, request, response) =>
    recorder.record(method, template, status, durationMs, request, response);
}

/** Per call, the median over ROUNDS of the nanoseconds `step` takes: wall clock, and this process's CPU time. */
function nsPerCall(step: () => void): { wall: number; cpu: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) step();
    wall.push(Number(process.hrtime.bigint() - start) / ITERATIONS);
    const used = process.cpuUsage(cpuStart);
    cpu.push(((used.user + used.system) * 1000) / ITERATIONS);
  }
  const median = (values: number[]): number => values.sort((a, b) => a - b)[ROUNDS >> 1];
  return { wall: median(wall), cpu: median(cpu) };
}

async function fastifyCost(): Promise<{ wall: number; cpu: number }> {
  const { step, finish } = await prepareFastify(CostModule);
  const ns = nsPerCall(step);
  await finish(ROUNDS * ITERATIONS);
  return ns;
}

async function prepareFastify(module: CostModuleClass): Promise<Prepared> {
  const app = await NestFactory.create(module, new FastifyAdapter(), { logger: false });
  const instance = app.getHttpAdapter().getInstance() as { addHook(name: string, hook: Hook): void };
  let seen: [unknown, unknown] | undefined;
  instance.addHook('onResponse', (request: unknown, reply: unknown, done: unknown) => {
    seen = [request, reply];
    (done as () => void)();
  });
  await app.listen(0, '127.0.0.1');
  await oneRequest(app);
  if (seen === undefined) throw new Error('Fastify ran no onResponse hook');
  const [request, reply] = seen;
  const hooks: Record<string, Hook> = {};
  // BENCH_ROUTE_URL=public: Fastify's route URL through request.routeOptions.url (src/compat/fastify.ts, F1).
  const urls = new RouteUrlReader((why) => {
    throw new Error(`the route URL read fell back: ${why}`);
  }, process.env.BENCH_ROUTE_URL !== 'public');
  const wrap = hookFastify(
    { addHook: (name: string, hook: Hook) => (hooks[name] = hook) },
    urls,
    sinkOf(app),
    app.get(ExemplarTraces).reader,
  );
  const onRequest = hooks.onRequest as Called;
  const onResponse = hooks.onResponse as Called;
  const done = (): void => undefined;
  const req = (request as { raw: IncomingMessage }).raw;
  const res = (reply as { raw: ServerResponse }).raw;
  // Fastify's listener, as it goes for a request whose hooks before ours all call done() at once.
  const listener = wrap(() => onRequest(request, reply, done));
  const closeListeners = res.listenerCount('close');
  return {
    step: () => {
      listener.call(undefined, req, res);
      onResponse(request, reply, done);
    },
    finish: async (calls) => {
      if (res.listenerCount('close') !== closeListeners)
        throw new Error('the bench request was tracked until its close');
      await verify(app, calls);
      await app.close();
    },
  };
}

async function expressCost(): Promise<{ wall: number; cpu: number }> {
  const { step, finish } = await prepareExpress(CostModule);
  const ns = nsPerCall(step);
  await finish(ROUNDS * ITERATIONS);
  return ns;
}

async function prepareExpress(module: CostModuleClass): Promise<Prepared> {
  const app = await NestFactory.create(module, { logger: false });
  const express = app.getHttpAdapter().getInstance() as { use(handler: Hook): void };
  let seen: [IncomingMessage, ServerResponse] | undefined;
  express.use((req: unknown, res: unknown, next: unknown) => {
    seen = [req as IncomingMessage, res as ServerResponse];
    (next as () => void)();
  });
  await app.listen(0, '127.0.0.1');
  await oneRequest(app);
  if (seen === undefined) throw new Error('Express passed no request through its middleware');
  const [req, res] = seen;
  if ((req as { route?: unknown }).route === undefined)
    throw new Error('the kept request has no Express route');
  const handled = { handle: (_req: IncomingMessage, _res: ServerResponse): void => undefined };
  // As the adapter hooks it: a route's template goes through `routed` (mounted routers' paths).
  const endpoints = new ExpressEndpoints(express);
  hookNodeServer(
    undefined,
    handled,
    { handler: undefined, routed: (r, template) => endpoints.route(r, template) },
    sinkOf(app),
    app.get(ExemplarTraces).reader,
  );
  const closeListeners = res.listenerCount('close');
  handled.handle(req, res);
  const closed = res.listeners('close')[closeListeners] as () => void;
  res.removeListener('close', closed);
  return {
    step: () => {
      handled.handle(req, res);
      res.emit('close');
      res.removeListener('close', closed);
    },
    finish: async (calls) => {
      await verify(app, calls);
      await app.close();
    },
  };
}

/**
 * Fails unless every call recorded: the loops must measure recording, not an early return. With
 * native histograms, the duration histogram's native part must hold every request too.
 */
async function verify(app: INestApplication, calls: number): Promise<void> {
  const metrics = app.get(VezaMetricsRegistry);
  const counter = metrics.get(VezaMetric.HttpRequestsTotal);
  const { values } = await counter.get();
  const total = values.filter((v) => v.labels.endpoint === '/').reduce((sum, v) => sum + v.value, 0);
  const expected = 1 + calls;
  if (total !== expected) throw new Error(`recorded ${total} requests of ${expected}`);
  const duration = metrics.get(VezaMetric.HttpRequestDuration);
  if (nativeConfigOf(duration) === undefined) return;
  for (const entry of layoutOf(duration)?.entries(duration) ?? []) {
    if (entry.labels?.endpoint !== '/') continue;
    const native = nativeSnapshotOf(duration, entry);
    if (native === undefined || entry.count !== expected)
      throw new Error(`the native part of ${entry.count} requests is ${JSON.stringify(native)}`);
  }
}

/** Per request, what native histograms add (`added`), and what a second classic application measures the same way (`aa`). */
interface NativeAdded {
  readonly wall: number;
  readonly cpu: number;
  readonly aa: { readonly wall: number; readonly cpu: number };
}

/**
 * Native histograms: per adapter, the application above (twice: the second instance measures the
 * pairing's own bias, an A/A figure) and the same with `nativeHistograms: true`, created between the
 * two classic ones, measured in alternating rounds (ITERATIONS requests of each in turn); the cost
 * added is the median of the paired differences (bench/paired-cpu.ts), wall clock and CPU time.
 */
async function nativeCost(prepare: (module: CostModuleClass) => Promise<Prepared>): Promise<NativeAdded> {
  const classic = await prepare(CostModule);
  const native = await prepare(NativeCostModule);
  const again = await prepare(CostModule);
  const round = (step: () => void) => (): { wall: number; cpu: number } => {
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) step();
    return {
      wall: Number(process.hrtime.bigint() - start) / ITERATIONS,
      cpu: cpuNsPer(cpuStart, ITERATIONS),
    };
  };
  const diffs = { wall: [] as number[], cpu: [] as number[], aaWall: [] as number[], aaCpu: [] as number[] };
  const [a, b, c] = [round(classic.step), round(native.step), round(again.step)];
  a();
  b();
  c();
  for (let r = 0; r < ROUNDS; r++) {
    const x = a();
    const y = b();
    const z = c();
    diffs.wall.push(y.wall - x.wall);
    diffs.cpu.push(y.cpu - x.cpu);
    diffs.aaWall.push(z.wall - x.wall);
    diffs.aaCpu.push(z.cpu - x.cpu);
  }
  for (const app of [classic, native, again]) await app.finish((ROUNDS + 1) * ITERATIONS);
  return {
    wall: median(diffs.wall),
    cpu: median(diffs.cpu),
    aa: { wall: median(diffs.aaWall), cpu: median(diffs.aaCpu) },
  };
}

async function main(): Promise<void> {
  const express = await expressCost();
  const fastify = await fastifyCost();
  // BENCH_NATIVE=0 skips the native histograms' side by side.
  const native =
    process.env.BENCH_NATIVE === '0'
      ? undefined
      : { express: await nativeCost(prepareExpress), fastify: await nativeCost(prepareFastify) };
  process.stdout.write(
    `${JSON.stringify({ express: express.wall, fastify: fastify.wall, cpu: { express: express.cpu, fastify: fastify.cpu }, ...(native ? { native } : {}) })}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
