/**
 * A `@GaugeSource` that fails at scrape time: its series is left out of that scrape (a last good
 * value served as fresh would be a lie; Prometheus then marks the series stale), counted in
 * `veza_metrics_collect_failures_total{metric,reason}`, and back at its next good answer.
 */
import { Injectable, type INestApplication } from '@nestjs/common';
import { GaugeSource, VezaMetric, VezaMetricsModule } from '../../src';
import { ADAPTERS, scrape, startApp, type AdapterKind } from '../utils/app';

type Mode = 'ok' | 'throw' | 'reject' | 'nan' | 'string' | 'hang';

@Injectable()
class Presence {
  mode: Mode = 'ok';

  @GaugeSource(VezaMetric.ActiveUsers)
  activeUsers(): unknown {
    switch (this.mode) {
      case 'ok':
        return 5;
      case 'throw':
        throw new Error('presence store down');
      case 'reject':
        return Promise.reject(new Error('presence store down'));
      case 'nan':
        return NaN;
      case 'string':
        return '12';
      case 'hang':
        return new Promise(() => undefined);
    }
  }

  @GaugeSource(VezaMetric.HealthCheckStatus, { labels: { service: 'cache' } })
  cache(): number {
    return 1;
  }

  @GaugeSource(VezaMetric.HealthCheckStatus, { labels: { service: 'db' } })
  db(): Promise<number> {
    return this.mode === 'ok' ? Promise.resolve(0.5) : Promise.reject(new Error('db probe failed'));
  }
}

/** The exposition's lines that start with `prefix`. */
const lines = (text: string, prefix: string): string[] =>
  text.split('\n').filter((l) => l.startsWith(prefix));

describe.each(ADAPTERS)('a failing @GaugeSource (%s)', (kind: AdapterKind) => {
  let app: INestApplication;
  let url: string;
  let presence: Presence;
  beforeAll(async () => {
    ({ app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, scrape: { collectTimeoutMs: 300 } })],
      providers: [Presence],
    }));
    presence = app.get(Presence);
  });
  afterAll(() => app.close());

  it('serves its value while it answers a finite number', async () => {
    const text = await scrape(url);
    expect(lines(text, 'veza_active_users')).toEqual(['veza_active_users 5']);
    expect(lines(text, 'veza_health_check_status{')).toEqual([
      'veza_health_check_status{service="cache"} 1',
      'veza_health_check_status{service="db"} 0.5',
    ]);
    expect(lines(text, 'veza_metrics_collect_failures_total{')).toEqual([]);
  });

  it.each([
    ['throws', 'throw', 1],
    ['rejects', 'reject', 2],
    ['returns NaN', 'nan', 3],
    ['returns the string "12"', 'string', 4],
  ] as const)(
    'that %s: its series is left out of that scrape, counted, and back at its next good answer',
    async (_, mode, count) => {
      presence.mode = mode;
      const failed = await scrape(url);
      expect(lines(failed, 'veza_active_users')).toEqual([]);
      expect(failed).toContain('# TYPE veza_active_users gauge\n');
      // The other series of a gauge with several sources are still served.
      expect(lines(failed, 'veza_health_check_status{')).toEqual([
        'veza_health_check_status{service="cache"} 1',
      ]);

      presence.mode = 'ok';
      const next = await scrape(url);
      expect(lines(next, 'veza_active_users')).toEqual(['veza_active_users 5']);
      expect(lines(next, 'veza_metrics_collect_failures_total{')).toEqual([
        `veza_metrics_collect_failures_total{metric="veza_active_users",reason="error"} ${count}`,
        `veza_metrics_collect_failures_total{metric="veza_health_check_status",reason="error"} ${count}`,
      ]);
    },
  );

  it('that does not answer in time: the metric is left out of that scrape and counted as a timeout', async () => {
    presence.mode = 'hang';
    const failed = await scrape(url);
    expect(lines(failed, 'veza_active_users')).toEqual([]);
    expect(failed).not.toContain('# TYPE veza_active_users gauge');

    presence.mode = 'ok';
    const next = await scrape(url);
    expect(lines(next, 'veza_active_users')).toEqual(['veza_active_users 5']);
    expect(lines(next, 'veza_metrics_collect_failures_total{metric="veza_active_users"')).toEqual([
      'veza_metrics_collect_failures_total{metric="veza_active_users",reason="error"} 4',
      'veza_metrics_collect_failures_total{metric="veza_active_users",reason="timeout"} 1',
    ]);
  });
});
