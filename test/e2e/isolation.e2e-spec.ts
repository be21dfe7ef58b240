import { Controller, Get, Injectable, Module, type OnModuleInit } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { makeCounterProvider } from '@willsoto/nestjs-prometheus';
import { Counter, Gauge, Registry, register } from 'prom-client';
import { VezaMetricsModule, VezaMetricsService } from '../../src';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { sampleValue } from '../utils/exposition';

@Controller('ping')
class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }
}

afterEach(() => register.clear());

describe.each(ADAPTERS)('isolation (%s)', (kind) => {
  it('keeps separate counts for two apps alive in one process', async () => {
    const a = await startApp(kind, { imports: [VezaMetricsModule.forRoot()], controllers: [PingController] });
    const b = await startApp(kind, { imports: [VezaMetricsModule.forRoot()], controllers: [PingController] });
    try {
      for (let i = 0; i < 3; i++) await fetch(`${a.url}/ping`);
      await fetch(`${b.url}/ping`);
      a.app.get(VezaMetricsService).recordLoginAttempt(false);
      const textA = await scrape(a.url);
      const textB = await scrape(b.url);
      expect(sampleValue(textA, 'veza_http_requests_total', { endpoint: '/ping' })).toBe(3);
      expect(sampleValue(textB, 'veza_http_requests_total', { endpoint: '/ping' })).toBe(1);
      expect(sampleValue(textA, 'veza_auth_login_attempts_total', { success: 'failure' })).toBe(1);
      expect(sampleValue(textB, 'veza_auth_login_attempts_total', { success: 'failure' })).toBeUndefined();
    } finally {
      await a.app.close();
      await b.app.close();
    }
  });

  it('creates and closes an app 50 times without "already been registered", default metrics included', async () => {
    for (let i = 0; i < 50; i++) {
      const { app, url } = await startApp(kind, {
        imports: [VezaMetricsModule.forRoot()],
        controllers: [PingController],
      });
      await fetch(`${url}/ping`);
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_http_requests_total', { endpoint: '/ping' })).toBe(1);
      expect(text).toContain('# TYPE process_cpu_user_seconds_total counter');
      await app.close();
    }
  }, 60_000);

  it("creates and closes an app 50 times on prom-client's global registry too", async () => {
    for (let i = 0; i < 50; i++) {
      const { app, url } = await startApp(kind, {
        imports: [VezaMetricsModule.forRoot({ registry: register })],
        controllers: [PingController],
      });
      await fetch(`${url}/ping`);
      const text = await scrape(url);
      // One registry shared by every app: the count carries over, by the user's choice.
      expect(sampleValue(text, 'veza_http_requests_total', { endpoint: '/ping' })).toBe(i + 1);
      expect(text.match(/^# TYPE process_cpu_user_seconds_total /gm)).toHaveLength(1);
      await app.close();
    }
  }, 60_000);
});

describe('a catalog name registered with another definition', () => {
  const expectedCacheClash =
    'VezaMetricsModule: metric "veza_cache_hits_total" is already registered as counter{cache,result} "Cache hits", ' +
    'but the Veza catalog defines it as counter{subsystem} "Total number of cache hits"; ' +
    "remove or rename the other definition (the catalog's names, types and labels are fixed).";

  it('fails the start-up naming the metric and both definitions (a registry the app brought)', async () => {
    const registry = new Registry();
    new Counter({
      name: 'veza_cache_hits_total',
      help: 'Cache hits',
      labelNames: ['cache', 'result'],
      registers: [registry],
    });
    await expect(
      Test.createTestingModule({ imports: [VezaMetricsModule.forRoot({ registry })] }).compile(),
    ).rejects.toThrow(expectedCacheClash);
  });

  it('fails the start-up when the app declares it with @willsoto/nestjs-prometheus', async () => {
    @Module({
      providers: [
        makeCounterProvider({
          name: 'veza_cache_hits_total',
          help: 'Cache hits',
          labelNames: ['cache', 'result'],
        }),
      ],
    })
    class CacheModule {}
    await expect(
      Test.createTestingModule({ imports: [CacheModule, VezaMetricsModule.forRoot()] }).compile(),
    ).rejects.toThrow(expectedCacheClash);
  });

  it('fails the start-up when the clashing metric is registered after the catalog, while the app initialises', async () => {
    @Injectable()
    class LateRegistrar implements OnModuleInit {
      onModuleInit(): void {
        new Gauge({ name: 'veza_active_users', help: 'Active users', labelNames: ['region'] });
      }
    }
    const moduleRef = await Test.createTestingModule({
      imports: [VezaMetricsModule.forRoot()],
      providers: [LateRegistrar],
    }).compile();
    const app = moduleRef.createNestApplication({ logger: false });
    await expect(app.init()).rejects.toThrow(
      'VezaMetricsModule: metric "veza_active_users" is already registered as gauge{region} "Active users", ' +
        'but the Veza catalog defines it as gauge{} "Number of active users"; ' +
        "remove or rename the other definition (the catalog's names, types and labels are fixed).",
    );
    await app.close();
  });

  it("fails on a type clash too: a gauge under a counter's name", async () => {
    const registry = new Registry();
    new Gauge({
      name: 'veza_tracks_uploaded_total',
      help: 'Total number of tracks uploaded',
      registers: [registry],
    });
    await expect(
      Test.createTestingModule({ imports: [VezaMetricsModule.forRoot({ registry })] }).compile(),
    ).rejects.toThrow(
      'metric "veza_tracks_uploaded_total" is already registered as gauge{} "Total number of tracks uploaded", but the Veza catalog defines it as counter{} "Total number of tracks uploaded"',
    );
  });
});
