import { Controller, Get, Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import {
  InjectMetric as WillsotoInjectMetric,
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
  makeSummaryProvider,
} from '@willsoto/nestjs-prometheus';
import { register, type Counter, type Gauge, type Histogram, type Summary } from 'prom-client';
import {
  InjectMetric,
  VEZA_CATALOG,
  VezaMetric,
  VezaMetricsModule,
  VezaMetricsRegistry,
  getMetricToken,
  type VezaMetricOf,
} from '../../src';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { sampleValue } from '../utils/exposition';

afterEach(() => register.clear());

describe('injectable metrics', () => {
  it('provides every catalog metric under its name, resolving to the object /metrics renders', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })],
    }).compile();
    const registry = moduleRef.get(VezaMetricsRegistry);
    for (const row of VEZA_CATALOG) {
      const metric = moduleRef.get(getMetricToken(row.name));
      expect(metric).toBe(registry.get(row.name as never));
      expect(registry.registry.getSingleMetric(row.name)).toBe(metric);
    }
    expect(Object.values(VezaMetric).sort()).toEqual(VEZA_CATALOG.map((r) => r.name).sort());
    await moduleRef.close();
  });

  it("resolves the same providers through @willsoto/nestjs-prometheus's InjectMetric, from a feature module", async () => {
    @Injectable()
    class AuthService {
      constructor(
        @InjectMetric(VezaMetric.LoginAttempts) readonly ours: VezaMetricOf<typeof VezaMetric.LoginAttempts>,
        @WillsotoInjectMetric('veza_auth_login_attempts_total') readonly theirs: Counter<'success'>,
      ) {}
      login(ok: boolean): void {
        this.theirs.inc({ success: ok ? 'success' : 'failure' });
      }
    }
    @Module({ providers: [AuthService] })
    class AuthModule {}

    const moduleRef = await Test.createTestingModule({
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false }), AuthModule],
    }).compile();
    const auth = moduleRef.get(AuthService);
    expect(auth.ours).toBe(auth.theirs);
    auth.login(false);
    auth.login(false);
    expect(
      sampleValue(await moduleRef.get(VezaMetricsRegistry).render(), 'veza_auth_login_attempts_total', {
        success: 'failure',
      }),
    ).toBe(2);
    await moduleRef.close();
  });

  it('resolves the strict names too under naming "strict"', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [VezaMetricsModule.forRoot({ naming: 'strict', defaultMetrics: false })],
    }).compile();
    const byStrictName = moduleRef.get<Histogram<'service'>>(
      getMetricToken('veza_health_check_duration_seconds'),
    );
    expect(byStrictName).toBe(moduleRef.get(getMetricToken(VezaMetric.HealthCheckDuration)));
    byStrictName.observe({ service: 'db' }, 0.004);
    expect(
      sampleValue(
        await moduleRef.get(VezaMetricsRegistry).render(),
        'veza_health_check_duration_seconds_count',
        { service: 'db' },
      ),
    ).toBe(1);
    await moduleRef.close();
  });
});

describe.each(ADAPTERS)('apps that already use @willsoto/nestjs-prometheus (%s)', (kind) => {
  @Injectable()
  class PlayerService {
    constructor(
      @WillsotoInjectMetric('player_plays_total') readonly plays: Counter<'quality'>,
      @WillsotoInjectMetric('player_buffer_seconds') readonly buffer: Gauge,
      @WillsotoInjectMetric('player_startup_seconds') readonly startup: Histogram,
      @WillsotoInjectMetric('player_bitrate_kbps') readonly bitrate: Summary,
    ) {}
  }

  @Controller('player')
  class PlayerController {
    constructor(private readonly player: PlayerService) {}
    @Get('play')
    play(): string {
      this.player.plays.inc({ quality: 'hd' });
      this.player.buffer.set(2.5);
      this.player.startup.observe(0.3);
      this.player.bitrate.observe(320);
      return 'ok';
    }
  }

  @Module({
    controllers: [PlayerController],
    providers: [
      PlayerService,
      makeCounterProvider({ name: 'player_plays_total', help: 'Plays', labelNames: ['quality'] }),
      makeGaugeProvider({ name: 'player_buffer_seconds', help: 'Buffer' }),
      makeHistogramProvider({ name: 'player_startup_seconds', help: 'Startup', buckets: [0.1, 0.5, 1] }),
      makeSummaryProvider({ name: 'player_bitrate_kbps', help: 'Bitrate', percentiles: [0.5] }),
    ],
  })
  class PlayerModule {}

  it('shows their make*Provider metrics on the same /metrics, next to the catalog', async () => {
    const { app, url } = await startApp(kind, { imports: [VezaMetricsModule.forRoot(), PlayerModule] });
    try {
      await fetch(`${url}/player/play`);
      const text = await scrape(url);
      expect(sampleValue(text, 'player_plays_total', { quality: 'hd' })).toBe(1);
      expect(sampleValue(text, 'player_buffer_seconds')).toBe(2.5);
      expect(sampleValue(text, 'player_startup_seconds_bucket', { le: '0.5' })).toBe(1);
      expect(sampleValue(text, 'player_bitrate_kbps_count')).toBe(1);
      expect(sampleValue(text, 'veza_http_requests_total', { endpoint: '/player/play', status: '2xx' })).toBe(
        1,
      );
      // Each name once: the exposition stays valid.
      const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
      expect(new Set(types).size).toBe(types.length);
    } finally {
      await app.close();
    }
  });

  it('adopts an identical declaration of a catalog metric instead of clashing', async () => {
    @Injectable()
    class LegacyAuth {
      constructor(
        @WillsotoInjectMetric('veza_auth_login_attempts_total') readonly logins: Counter<'success'>,
      ) {}
    }
    @Module({
      providers: [
        LegacyAuth,
        makeCounterProvider({
          name: 'veza_auth_login_attempts_total',
          help: 'Total number of login attempts',
          labelNames: ['success'],
        }),
      ],
    })
    class LegacyModule {}
    const { app, url } = await startApp(kind, { imports: [LegacyModule, VezaMetricsModule.forRoot()] });
    try {
      app.get(LegacyAuth).logins.inc({ success: 'success' });
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_auth_login_attempts_total', { success: 'success' })).toBe(1);
      expect(text.match(/^# TYPE veza_auth_login_attempts_total /gm)).toHaveLength(1);
    } finally {
      await app.close();
    }
  });
});
