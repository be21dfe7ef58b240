import { Gauge, Registry } from 'prom-client';
import { GaugeSource, VezaMetric } from '../../../src';
import { INSTRUMENTATION_ERRORS } from '../../../src/instrumentation/metrics-explorer';
import { captureWarnings, harness } from './harness';

/* @GaugeSource: a provider method read when Prometheus scrapes. */

class Presence {
  online = 3;
  connections: unknown = 7;
  reads = 0;

  @GaugeSource(VezaMetric.ActiveUsers)
  activeUsers(): number {
    this.reads += 1;
    return this.online;
  }

  @GaugeSource(VezaMetric.DatabaseConnectionsActive)
  async poolSize(): Promise<unknown> {
    await new Promise((r) => setTimeout(r, 5));
    if (this.connections instanceof Error) throw this.connections;
    return this.connections;
  }

  @GaugeSource(VezaMetric.HealthCheckStatus, { labels: { service: 'cache' } })
  cacheStatus(): number {
    return 0.5;
  }
}

describe('@GaugeSource', () => {
  it('reads the method at each scrape, sync or async, labelled or not; the method itself is untouched', async () => {
    const presence = new Presence();
    const h = harness([presence]);
    try {
      expect(presence.activeUsers()).toBe(3);
      presence.reads = 0;
      const text = await h.metrics.registry.metrics();
      expect(text).toContain('\nveza_active_users 3\n');
      expect(text).toContain('\nveza_database_connections_active 7\n');
      expect(text).toContain('\nveza_health_check_status{service="cache"} 0.5\n');
      presence.online = 10;
      expect(await h.value(VezaMetric.ActiveUsers)).toBe(10);
      expect(presence.reads).toBe(2);
    } finally {
      h.close();
    }
  });

  it('a source that throws, rejects or answers something else than a number: its series is left out, counted and logged once', async () => {
    const warnings = captureWarnings();
    const presence = new Presence();
    const h = harness([presence]);
    try {
      expect(await h.value(VezaMetric.DatabaseConnectionsActive)).toBe(7);
      presence.connections = 'many';
      expect(await h.value(VezaMetric.DatabaseConnectionsActive)).toBeUndefined();
      presence.connections = new Error('pool closed');
      expect(await h.value(VezaMetric.DatabaseConnectionsActive)).toBeUndefined();
      presence.connections = 8;
      expect(await h.value(VezaMetric.DatabaseConnectionsActive)).toBe(8);
      const failures = { metric: VezaMetric.DatabaseConnectionsActive, reason: 'error' };
      expect(await h.value('veza_metrics_collect_failures_total', failures)).toBe(2);
      expect(
        await h.value(INSTRUMENTATION_ERRORS, { decorator: 'GaugeSource', method: 'Presence#poolSize' }),
      ).toBeUndefined();
      expect(warnings.messages.filter((m) => m.includes('Presence#poolSize'))).toEqual([
        '@GaugeSource on "Presence#poolSize" failed (the value must be a finite number, got the string "many"); its series of ' +
          '"veza_database_connections_active" is left out of the scrape until it answers a finite number again (logged once, ' +
          'counted in veza_metrics_collect_failures_total).',
      ]);
    } finally {
      h.close();
      warnings.restore();
    }
  });

  it('keeps a collect already on the gauge, and puts it back when the application closes', async () => {
    const registry = new Registry();
    const gauge = new Gauge({
      name: VezaMetric.LiveStreamsActive,
      help: 'Number of currently active live streams',
      registers: [registry],
    });
    let collected = 0;
    (gauge as unknown as { collect: () => void }).collect = () => {
      collected += 1;
    };
    class Streams {
      @GaugeSource(VezaMetric.LiveStreamsActive)
      active() {
        return 4;
      }
    }
    const h = harness([new Streams()], { registry });
    expect(await h.value(VezaMetric.LiveStreamsActive)).toBe(4);
    expect(collected).toBe(1);
    h.close();
    await gauge.get();
    expect(collected).toBe(2);
  });
});
