/**
 * The memory bound of HTTP recording under hostile connections (issue 12, item 1), on Express and
 * Fastify: connections that send one slow request and pipeline 20 more behind it, then reset.
 *
 * 1. While open: N connections hold their 21 requests (the slow one waits; Node queues the 20
 *    responses behind it). The heap after GC, instrumented minus a bare app, per queued response,
 *    against the stated bound.
 * 2. After: N connections reset, every handler done. The heap after GC against the same app before
 *    them (the library must keep nothing once the socket is gone), and the exact count recorded.
 *
 * Run: node --expose-gc --no-warnings -r ./bench/http-register.js bench/memory-http.bench.ts
 * BENCH_CONNECTIONS (2000) scales it.
 */
import { Controller, Get, Module, Param, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { connect } from 'node:net';
import { VezaMetricsModule, VezaMetricsRegistry } from '../src';

const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 2000);
const PIPELINED = 20;
const PARALLEL = 50;
/** Stated bounds (README, "HTTP and WebSocket metrics"). */
const PER_QUEUED_RESPONSE_LIMIT_B = 200;
const RETAINED_LIMIT_MIB = 2;

const state = { entered: 0, done: 0, release: (): void => undefined, gate: Promise.resolve() };

@Controller()
class HostileController {
  @Get('slow')
  async slow(): Promise<string> {
    state.entered++;
    await state.gate;
    state.done++;
    return 'slow';
  }

  @Get('tracks/:id')
  track(@Param('id') id: string): string {
    state.entered++;
    state.done++;
    return id;
  }
}

@Module({ controllers: [HostileController] })
class BareModule {}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, statusLabel: 'code' })],
  controllers: [HostileController],
})
class InstrumentedModule {}

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with node --expose-gc');
  collect();
  collect();
};
const heap = (): number => {
  gc();
  return process.memoryUsage().heapUsed;
};
const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * The heap after GC once it stops shrinking: closed sockets release their native handles (and what
 * those hold) over a few turns of the event loop, so one GC right after the closes can still count
 * them, with or without this library.
 */
async function settledHeap(): Promise<number> {
  let low = heap();
  for (let quiet = 0; quiet < 5;) {
    await delay(200);
    const now = heap();
    quiet = now < low - 64 * 1024 ? 0 : quiet + 1;
    low = Math.min(low, now);
  }
  return low;
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await delay(2);
}

const WIRE = ((): string => {
  let wire = 'GET /slow HTTP/1.1\r\nHost: x\r\n\r\n';
  for (let i = 0; i < PIPELINED; i++) wire += `GET /tracks/${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
  return wire;
})();

/** Opens `count` hostile connections, and resolves once the app entered all their handlers. */
async function open(port: number, count: number): Promise<Array<ReturnType<typeof connect>>> {
  const sockets: Array<ReturnType<typeof connect>> = [];
  for (let i = 0; i < count; i += PARALLEL) {
    const batch = Math.min(PARALLEL, count - i);
    const target = state.entered + batch * (1 + PIPELINED);
    for (let j = 0; j < batch; j++) {
      const socket = connect(port, '127.0.0.1');
      socket.on('error', () => undefined);
      socket.write(WIRE);
      sockets.push(socket);
    }
    await until(() => state.entered >= target);
  }
  return sockets;
}

async function reset(sockets: Array<ReturnType<typeof connect>>): Promise<void> {
  await Promise.all(
    sockets.map((s) => {
      s.resetAndDestroy();
      return new Promise<void>((resolve) => (s.closed ? resolve() : s.once('close', () => resolve())));
    }),
  );
  sockets.length = 0;
  state.release();
  await until(() => state.done === state.entered);
  await delay(50);
}

function closeGate(): void {
  state.gate = new Promise((resolve) => (state.release = resolve));
}

async function start(
  adapter: 'express' | 'fastify',
  module: unknown,
): Promise<{ app: INestApplication; port: number }> {
  const options = { logger: false as const, forceCloseConnections: true };
  const app =
    adapter === 'express'
      ? await NestFactory.create(module as never, options)
      : await NestFactory.create(module as never, new FastifyAdapter(), options);
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  return { app, port: address.port };
}

/** Heap held per open hostile connection, and retained after they all reset, for one app. */
async function measure(
  adapter: 'express' | 'fastify',
  module: unknown,
): Promise<{ openB: number; retainedB: number; app: INestApplication }> {
  const { app, port } = await start(adapter, module);
  // Warm-up: every code path and series exists before the baselines.
  closeGate();
  await reset(await open(port, PARALLEL));
  const before = await settledHeap();
  closeGate();
  const sockets = await open(port, CONNECTIONS);
  const held = heap();
  await reset(sockets);
  const after = await settledHeap();
  return { openB: held - before, retainedB: after - before, app };
}

function counted(text: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('veza_http_requests_total{')) total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

async function main(): Promise<void> {
  console.log(
    `HTTP memory under ${CONNECTIONS} connections of 1 slow + ${PIPELINED} pipelined requests, then reset`,
  );
  for (const adapter of ['express', 'fastify'] as const) {
    const bare = await measure(adapter, BareModule);
    await bare.app.close();
    const ours = await measure(adapter, InstrumentedModule);
    const recorded = counted(await ours.app.get(VezaMetricsRegistry).render());
    await ours.app.close();
    const expected = (CONNECTIONS + PARALLEL) * (1 + PIPELINED);
    const perQueued = (ours.openB - bare.openB) / (CONNECTIONS * PIPELINED);
    const retainedMiB = ours.retainedB / 2 ** 20;
    console.log(`${adapter}:`);
    console.log(
      `- while open: ${(ours.openB / 2 ** 20).toFixed(1)} MiB (bare app: ${(bare.openB / 2 ** 20).toFixed(1)} MiB); ` +
        `added per queued response ${perQueued.toFixed(0)} B (limit ${PER_QUEUED_RESPONSE_LIMIT_B} B): ${perQueued <= PER_QUEUED_RESPONSE_LIMIT_B ? 'met' : 'not met'}`,
    );
    console.log(
      `- after every socket closed: ${retainedMiB.toFixed(2)} MiB retained (bare app: ${(bare.retainedB / 2 ** 20).toFixed(2)} MiB; ` +
        `limit ${RETAINED_LIMIT_MIB} MiB): ${retainedMiB <= RETAINED_LIMIT_MIB ? 'met' : 'not met'}`,
    );
    console.log(
      `- requests recorded: ${recorded} of ${expected} handed to the app: ${recorded === expected ? 'met' : 'not met'}`,
    );
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
