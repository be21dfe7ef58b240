/**
 * One application of `npm run bench:peers`, in its own process:
 * `node -r ./bench/http-register.js bench/peers/server.ts <express|fastify> <variant>`.
 *
 * The same trivial Nest app for every variant: `GET /` answers `{ "hello": "world" }` and
 * `GET /items/:id` answers `{ "id": id }` (or throws Nest's NotFoundException for the id `missing`).
 * Variants: `bare`; `veza` (`VezaMetricsModule.forRoot()`); `veza-no-default-metrics`
 * (`forRoot({ defaultMetrics: false })`); `willsoto` (`@willsoto/nestjs-prometheus` with the global
 * HTTP interceptor its users write: a counter and a histogram injected with `@InjectMetric`, see
 * {@link WillsotoHttpInterceptor}); `prom-bundle` (Express: `express-prom-bundle` 8 as its README's
 * sample usage says, `app.use(promBundle({ includeMethod: true }))`); `fastify-metrics` (Fastify:
 * `fastify-metrics` 13 registered with `{ endpoint: '/metrics' }`, its README's usage); `otel` (run
 * with `-r bench/peers/otel-preload.js`: the Node SDK's HTTP instrumentation and the Prometheus
 * exporter on BENCH_OTEL_PORT).
 *
 * Prints `PORT <n>` once listening; answers each line `stats` on stdin with `STATS <user µs> <system µs>
 * <allocated bytes>` (this process's CPU time so far and the heap bytes allocated so far, from V8's GC
 * profiler: the used heap before each collection minus after the previous one, plus the growth since
 * the last); exits on SIGTERM.
 */
import 'reflect-metadata';
import { GCProfiler, getHeapStatistics } from 'node:v8';
import {
  Controller,
  Get,
  Injectable,
  Module,
  NotFoundException,
  Param,
  type CallHandler,
  type DynamicModule,
  type ExecutionContext,
  type NestInterceptor,
  type Provider,
  type Type,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import {
  InjectMetric,
  PrometheusModule,
  makeCounterProvider,
  makeHistogramProvider,
} from '@willsoto/nestjs-prometheus';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { collectDefaultMetrics, Registry, type Counter, type Histogram } from 'prom-client';
import { tap, type Observable } from 'rxjs';
import { VezaMetricsModule } from '../../src';
import { hookNodeServer } from '../../src/http/adapters/express';
import { captureHandledExceptions } from '../../src/http/exception-capture';

@Controller()
class PeersController {
  @Get()
  hello(): { hello: string } {
    return { hello: 'world' };
  }

  @Get('items/:id')
  item(@Param('id') id: string): { id: string } {
    if (id === 'missing') throw new NotFoundException(`no item ${id}`);
    return { id };
  }
}

/**
 * The HTTP interceptor `@willsoto/nestjs-prometheus` users write (its maintainer's answer, issue
 * #791: "create the metric you want and inject it into the interceptor"; the library records no
 * HTTP metric itself, issue #1756): a global interceptor, a counter and a histogram labelled by
 * method, route and status code, the route read from the router, the status from the response once
 * the handler's Observable completes or fails.
 */
@Injectable()
class WillsotoHttpInterceptor implements NestInterceptor {
  constructor(
    @InjectMetric('http_requests_total') private readonly requests: Counter<string>,
    @InjectMetric('http_request_duration_seconds') private readonly duration: Histogram<string>,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const http = context.switchToHttp();
    const request = http.getRequest<{
      method: string;
      url: string;
      route?: { path: string };
      routeOptions?: { url: string };
    }>();
    const response = http.getResponse<{ statusCode: number }>();
    const end = this.duration.startTimer();
    const record = (): void => {
      const labels = {
        method: request.method,
        route: request.route?.path ?? request.routeOptions?.url ?? request.url,
        status_code: String(response.statusCode),
      };
      this.requests.inc(labels);
      end(labels);
    };
    return next.handle().pipe(tap({ next: record, error: record }));
  }
}

const willsoto = (): { imports: DynamicModule[]; providers: Provider[] } => ({
  imports: [PrometheusModule.register()],
  providers: [
    makeCounterProvider({
      name: 'http_requests_total',
      help: 'HTTP requests',
      labelNames: ['method', 'route', 'status_code'],
    }),
    makeHistogramProvider({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status_code'],
    }),
    { provide: APP_INTERCEPTOR, useClass: WillsotoHttpInterceptor },
  ],
});

/** Modules and providers of each variant, by variant; the adapter a variant needs, if one. */
const VARIANTS: Record<
  string,
  { adapter?: 'express' | 'fastify'; app: () => { imports: DynamicModule[]; providers: Provider[] } }
> = {
  bare: { app: () => ({ imports: [], providers: [] }) },
  veza: { app: () => ({ imports: [VezaMetricsModule.forRoot()], providers: [] }) },
  'veza-no-default-metrics': {
    app: () => ({ imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })], providers: [] }),
  },
  willsoto: { app: willsoto },
  'prom-bundle': { adapter: 'express', app: () => ({ imports: [], providers: [] }) },
  'fastify-metrics': { adapter: 'fastify', app: () => ({ imports: [], providers: [] }) },
  otel: { app: () => ({ imports: [], providers: [] }) },
  // Ablations, to find where a cost comes from (not in the default lists): the module without its
  // HTTP recording; bare Nest with two Fastify hooks that do nothing but call done().
  'veza-no-http': { app: () => ({ imports: [VezaMetricsModule.forRoot({ http: false })], providers: [] }) },
  'empty-hooks': { adapter: 'fastify', app: () => ({ imports: [], providers: [] }) },
  // The module with nothing per request and no default metrics. (Every variant, bare included,
  // loads this library's code, @willsoto/nestjs-prometheus and prom-client: the imports above.)
  'veza-idle': {
    app: () => ({
      imports: [VezaMetricsModule.forRoot({ http: false, defaultMetrics: false })],
      providers: [],
    }),
  },
  // Express request path ablations (issue #25, item 3), through public options only: the catalog's
  // registration alone (every feature that can be switched off is off: no HTTP recording, no
  // default metrics, no outbound channels, no /metrics route); the defaults without outbound; the
  // HTTP recording with nothing else.
  'veza-catalog': { app: () => ({ imports: [VezaMetricsModule.forRoot(CATALOG_ONLY)], providers: [] }) },
  'veza-no-outbound': {
    app: () => ({ imports: [VezaMetricsModule.forRoot({ outbound: false })], providers: [] }),
  },
  'veza-http-only': {
    app: () => ({
      imports: [VezaMetricsModule.forRoot({ ...CATALOG_ONLY, http: true, appEndpoint: true })],
      providers: [],
    }),
  },
  // Bare Nest plus one piece of what forRoot() builds on Express, installed by this file
  // (see `ablate`): the pieces of the request path measured one by one.
  'bare-handle-wrap': { adapter: 'express', app: () => ({ imports: [], providers: [] }) },
  'bare-socket-fields': { adapter: 'express', app: () => ({ imports: [], providers: [] }) },
  'bare-res-close': { adapter: 'express', app: () => ({ imports: [], providers: [] }) },
  'bare-hooks': { adapter: 'express', app: () => ({ imports: [], providers: [] }) },
  'bare-exception-hook': { adapter: 'express', app: () => ({ imports: [], providers: [] }) },
  'bare-default-metrics': { app: () => ({ imports: [], providers: [] }) },
  // Two more bare servers under other names: where a variant sits in the slices' order (first and
  // last get two slices back to back at every turn) is measured with them.
  'bare-copy': { app: () => ({ imports: [], providers: [] }) },
  'bare-copy-2': { app: () => ({ imports: [], providers: [] }) },
};

/** forRoot() with every feature that a public option switches off switched off. */
const CATALOG_ONLY = {
  http: false,
  defaultMetrics: false,
  appEndpoint: false,
  outbound: false,
  rpc: false,
  queues: false,
  cache: false,
  health: false,
  graphql: false,
  database: false,
  exemplars: false,
} as const;

/**
 * Installs on a bare Express app the one piece of the module's request path a `bare-*` ablation
 * names: `bare-handle-wrap`, a pass-through wrapper of the app's `handle` (src/compat/express.ts,
 * E9); `bare-socket-fields`, that wrapper writing the recorder's two fields on the request's socket;
 * `bare-res-close`, that wrapper adding a `close` listener that does nothing to the response;
 * `bare-hooks`, the recorder's whole Express hook (`hookNodeServer`: start time, socket fields,
 * `close` listener, route resolution) handing each response to a `record` that does nothing;
 * `bare-exception-hook`, Nest's exception handler wrapped (runs on exceptions only);
 * `bare-default-metrics`, prom-client's default metrics in a registry of their own (their
 * event-loop monitor and GC observer).
 */
function ablate(
  variant: string,
  app: { getHttpAdapter(): { getInstance(): unknown; getHttpServer(): unknown } },
): void {
  type Handle = (this: unknown, req: IncomingMessage, res: ServerResponse, next?: unknown) => unknown;
  const wrapHandle = (before: (req: IncomingMessage, res: ServerResponse) => void): void => {
    const express = app.getHttpAdapter().getInstance() as { handle: Handle };
    const handle = express.handle;
    express.handle = function ablationHandle(this: unknown, req, res, next) {
      before(req, res);
      return handle.call(this, req, res, next);
    };
  };
  const RESPONSE = Symbol('response');
  const SLOT = Symbol('slot');
  const nothing = (): void => {};
  switch (variant) {
    case 'bare-handle-wrap':
      return wrapHandle(nothing);
    case 'bare-socket-fields':
      return wrapHandle((req, res) => {
        const socket = req.socket as Socket & { [RESPONSE]?: unknown; [SLOT]?: number };
        socket[RESPONSE] = res;
        socket[SLOT] = 0;
      });
    case 'bare-res-close':
      return wrapHandle((_req, res) => {
        res.on('close', nothing);
      });
    case 'bare-hooks':
      return hookNodeServer(
        app.getHttpAdapter().getHttpServer() as Server,
        app.getHttpAdapter().getInstance(),
        { handler: undefined },
        nothing,
      );
    case 'bare-exception-hook':
      return captureHandledExceptions();
    case 'bare-default-metrics':
      collectDefaultMetrics({ register: new Registry() });
      return;
  }
}

function appModule(variant: string): Type {
  const { imports, providers } = VARIANTS[variant].app();
  @Module({ imports, controllers: [PeersController], providers })
  class PeersModule {}
  return PeersModule;
}

/** Heap bytes allocated so far, from V8's GC profiler (restarted on each call). */
function allocationCounter(): () => number {
  const used = (): number => getHeapStatistics().used_heap_size;
  let profiler = new GCProfiler();
  let previous = used();
  let total = 0;
  profiler.start();
  return () => {
    for (const gc of profiler.stop().statistics) {
      total += gc.beforeGC.heapStatistics.usedHeapSize - previous;
      previous = gc.afterGC.heapStatistics.usedHeapSize;
    }
    const now = used();
    total += now - previous;
    previous = now;
    profiler = new GCProfiler();
    profiler.start();
    return total;
  };
}

async function main(): Promise<void> {
  const [adapter = 'fastify', variant = 'bare'] = process.argv.slice(2);
  const known = VARIANTS[variant];
  if (!known || (known.adapter && known.adapter !== adapter)) {
    throw new Error(
      `unknown variant '${variant}' for ${adapter}: use one of ${Object.keys(VARIANTS).join(', ')} (prom-bundle on express, fastify-metrics on fastify only)`,
    );
  }
  const module = appModule(variant);
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(module, { logger: false });
  if (variant === 'prom-bundle') {
    const { default: promBundle } = await import('express-prom-bundle');
    app.use(promBundle({ includeMethod: true }));
  }
  if (variant === 'fastify-metrics') {
    const fastify = app.getHttpAdapter().getInstance() as {
      register(plugin: unknown, options: object): Promise<unknown>;
    };
    const { default: metricsPlugin } = await import('fastify-metrics');
    await fastify.register(metricsPlugin, { endpoint: '/metrics' });
  }
  ablate(variant, app);
  if (variant === 'empty-hooks') {
    const fastify = app.getHttpAdapter().getInstance() as {
      addHook(name: string, hook: (request: unknown, reply: unknown, done: () => void) => void): void;
    };
    fastify.addHook('onRequest', (_request, _reply, done) => done());
    fastify.addHook('onResponse', (_request, _reply, done) => done());
  }
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  const allocated = allocationCounter();
  process.stdout.write(`PORT ${address.port}\n`);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (line.trim() !== 'stats') continue;
      const { user, system } = process.cpuUsage();
      process.stdout.write(`STATS ${user} ${system} ${allocated()}\n`);
    }
  });
  process.on('SIGTERM', () => {
    void app.close().then(() => process.exit(0));
  });
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
