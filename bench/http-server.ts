/**
 * One application of the HTTP benchmark, in its own process: `node -r ./bench/http-register.js
 * bench/http-server.ts <express|fastify> <variant>`. Variants: `bare`; `bare-again` (a second bare
 * server: what two processes of one server differ by, the noise floor); `instrumented`
 * (`forRoot()`); `noop-interceptor` (a global interceptor that does nothing); `module-without-http`
 * (`forRoot({ http: false })`: what the rest of the module costs); `http-only` (no default metrics,
 * no exemplars); `no-default-metrics`; `no-exemplars`; on Fastify, `noop-hooks` (no module; an
 * onRequest and an onResponse hook that do nothing, the floor of a hook-based recorder). An unknown
 * variant is refused. It serves one trivial route, `GET /`, prints `PORT <n>` once listening,
 * answers each line `cpu` on stdin with `CPU <total> <user>` (the microseconds of CPU this process
 * has used so far, and those of them in user space), and exits on SIGTERM.
 */
import 'reflect-metadata';
import {
  Module,
  type CallHandler,
  type DynamicModule,
  type ExecutionContext,
  type NestInterceptor,
  type Type,
} from '@nestjs/common';
import { APP_INTERCEPTOR, NestFactory } from '@nestjs/core';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import type { Observable } from 'rxjs';
import { VezaMetricsModule } from '../src';
import { HelloController } from './hello.controller';

/** A global interceptor that does nothing: the reference cost the issue quotes (~15% on Fastify). */
class NoopInterceptor implements NestInterceptor {
  intercept(_context: ExecutionContext, next: CallHandler): Observable<unknown> {
    return next.handle();
  }
}

/** The module each variant imports, by variant. */
const IMPORTS: Record<string, () => DynamicModule[]> = {
  bare: () => [],
  /** A second bare server: what two processes of the same server differ by (the noise floor). */
  'bare-again': () => [],
  instrumented: () => [VezaMetricsModule.forRoot()],
  'module-without-http': () => [VezaMetricsModule.forRoot({ http: false })],
  'http-only': () => [VezaMetricsModule.forRoot({ defaultMetrics: false, exemplars: false })],
  'no-default-metrics': () => [VezaMetricsModule.forRoot({ defaultMetrics: false })],
  'no-exemplars': () => [VezaMetricsModule.forRoot({ exemplars: false })],
  'noop-interceptor': () => [],
  'noop-hooks': () => [],
};

function appModule(variant: string): Type {
  const imports = IMPORTS[variant]();
  const providers =
    variant === 'noop-interceptor' ? [{ provide: APP_INTERCEPTOR, useClass: NoopInterceptor }] : [];
  @Module({ imports, controllers: [HelloController], providers })
  class BenchModule {}
  return BenchModule;
}

async function main(): Promise<void> {
  const [adapter = 'fastify', variant = 'bare'] = process.argv.slice(2);
  if (!Object.hasOwn(IMPORTS, variant) || (variant === 'noop-hooks' && adapter !== 'fastify')) {
    throw new Error(
      `unknown variant '${variant}' for ${adapter}: use one of ${Object.keys(IMPORTS).join(', ')} (noop-hooks on fastify only)`,
    );
  }
  const module = appModule(variant);
  const app =
    adapter === 'fastify'
      ? await NestFactory.create(module, new FastifyAdapter(), { logger: false })
      : await NestFactory.create(module, { logger: false });
  if (variant === 'noop-hooks') {
    // The floor of any hook-based recorder on Fastify: an onRequest and an onResponse hook that do nothing.
    const fastify = app.getHttpAdapter().getInstance() as {
      addHook(name: string, hook: (...args: unknown[]) => void): void;
    };
    const pass = (_request: unknown, _reply: unknown, done: unknown): void => (done as () => void)();
    fastify.addHook('onRequest', pass);
    fastify.addHook('onResponse', pass);
  }
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  process.stdout.write(`PORT ${address.port}\n`);
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) {
      if (line.trim() !== 'cpu') continue;
      const { user, system } = process.cpuUsage();
      process.stdout.write(`CPU ${user + system} ${user}\n`);
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
