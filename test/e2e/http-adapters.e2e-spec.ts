/**
 * Issue 14, item 4: one recorder per HTTP adapter (src/http/adapters/), each handing the recorder
 * the response as values, the duration included; an adapter with no recorder is said at start-up
 * and records nothing (never every request as `<unmatched>`).
 */
import { Controller, Get, Module, Param, type LoggerService } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { VezaMetricsModule, VezaMetricsRegistry } from '../../src';
import { ADAPTERS, startApp } from '../utils/app';
import { samples } from './http-client.fixture';

const WAIT_MS = 300;

@Controller('tracks')
class TracksController {
  @Get('slow')
  async slow(): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, WAIT_MS));
    return 'slow';
  }

  @Get(':id')
  get(@Param('id') id: string): { id: string } {
    return { id };
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, statusLabel: 'code' })],
  controllers: [TracksController],
})
class AppModule {}

/** A Nest logger that keeps every warning. */
function warningsLogger(): LoggerService & { warnings: string[] } {
  const warnings: string[] = [];
  const ignore = (): void => undefined;
  return {
    warnings,
    log: ignore,
    error: ignore,
    debug: ignore,
    verbose: ignore,
    warn: (m: unknown) => warnings.push(String(m)),
  };
}

/**
 * An adapter this library has no recorder for: Express underneath (so that it serves routes), but
 * reporting a type of its own, as a third-party platform adapter does.
 */
class HyperAdapter extends ExpressAdapter {
  override getType(): string {
    return 'hyper';
  }
}

it('says at start-up that an adapter with no recorder is not recorded, and records none of its requests', async () => {
  const logger = warningsLogger();
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  const app = moduleRef.createNestApplication(new HyperAdapter(), { logger, forceCloseConnections: true });
  await app.listen(0, '127.0.0.1');
  try {
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    expect((await fetch(`${url}/tracks/1`)).status).toBe(200);
    expect((await fetch(`${url}/nope`)).status).toBe(404);
    const text = await app.get(VezaMetricsRegistry).render();
    expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual({});
    expect(samples(text, 'veza_http_request_duration_seconds_count', ['method', 'endpoint'])).toEqual({});
    expect(logger.warnings.filter((w) => w.startsWith('HTTP requests'))).toEqual([
      'HTTP requests are not recorded: the application\'s HTTP adapter HyperAdapter (getType() "hyper") has no recorder in this library (Express and Fastify have one, src/http/adapters/). Use ExpressAdapter or FastifyAdapter, or set http: { enabled: false } to silence this.',
    ]);
  } finally {
    await app.close();
  }
}, 60_000);

describe.each(ADAPTERS)('on %s', (kind) => {
  it("records each response with the adapter's duration, and says nothing about the adapter", async () => {
    const logger = warningsLogger();
    const { app, url } = await startApp(kind, { imports: [AppModule] }, (a) => a.useLogger(logger));
    try {
      expect((await fetch(`${url}/tracks/slow`)).status).toBe(200);
      expect((await fetch(`${url}/tracks/1`)).status).toBe(200);
      const text = await app.get(VezaMetricsRegistry).render();
      expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual({
        'GET /tracks/slow 200': 1,
        'GET /tracks/:id 200': 1,
      });
      // The handler waited WAIT_MS before answering: its recorded duration cannot be shorter.
      const sums = samples(text, 'veza_http_request_duration_seconds_sum', ['endpoint']);
      expect(sums['/tracks/slow']).toBeGreaterThanOrEqual(WAIT_MS / 1000);
      const fast = samples(text, 'veza_http_request_duration_seconds_bucket', ['endpoint', 'le']);
      expect(fast['/tracks/slow 0.1']).toBe(0);
      expect(logger.warnings.filter((w) => w.includes('not recorded'))).toEqual([]);
    } finally {
      await app.close();
    }
  }, 60_000);
});
