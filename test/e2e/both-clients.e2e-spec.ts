import * as PI from '@prometheus-io/client';
import * as PC from 'prom-client';
import { VezaMetricsModule } from '../../src';
import { ADAPTERS, startApp } from '../utils/app';
import { sampleValue } from '../utils/exposition';
import { AppRegistry } from '../../src/registry/app-registry';

/*
 * An application with both clients installed (the successor chosen, and @willsoto/nestjs-prometheus
 * bringing prom-client, or the other way round): the app's own metrics of its own client, and the
 * global registry of each installed client, all reach the one /metrics.
 */
const successorOnly = !('AggregatorRegistry' in PC) || 'ClusterRegistry' in PC; // VEZA_TEST_CLIENT=prometheus-io
const describeBoth = successorOnly ? describe.skip : describe;
/** The successor runs on Node 22+ only (on Node 20 the start-up fails, saying why). */
const NODE_22 = Number(process.versions.node.split('.')[0]) >= 22;

describeBoth.each(ADAPTERS)('both clients installed (%s)', (kind) => {
  it.each([
    ['prom-client', () => new PC.Registry()],
    ['@prometheus-io/client', () => new PI.Registry()],
  ] as const)(
    'the registry option of %s: that client, its own counter and both global registries on /metrics',
    async (client, make) => {
      const registry = make();
      const own = client === 'prom-client' ? PC.Counter : PI.Counter;
      new own({ name: 'app_own_total', help: 'The app own counter', registers: [registry as never] }).inc(3);
      const willsoto = new PC.Counter({
        name: 'willsoto_jobs_total',
        help: 'On prom-client global registry',
      });
      const successorGlobal = new PI.Counter({
        name: 'successor_jobs_total',
        help: 'On the successor global registry',
      });
      try {
        willsoto.inc(2);
        successorGlobal.inc(5);
        const starting = startApp(kind, {
          imports: [VezaMetricsModule.forRoot({ registry, defaultMetrics: false })],
        });
        if (client === '@prometheus-io/client' && !NODE_22) {
          await expect(starting).rejects.toThrow(/@prometheus-io\/client \S+ needs Node 22 or newer/);
          return;
        }
        const { app, url } = await starting;
        try {
          expect(app.get(AppRegistry).client.seam.name).toBe(client);
          const text = await (await fetch(`${url}/metrics`)).text();
          expect(sampleValue(text, 'app_own_total')).toBe(3);
          expect(sampleValue(text, 'willsoto_jobs_total')).toBe(2);
          expect(sampleValue(text, 'successor_jobs_total')).toBe(5);
        } finally {
          await app.close();
        }
      } finally {
        PC.register.removeSingleMetric('willsoto_jobs_total');
        PI.register.removeSingleMetric('successor_jobs_total');
      }
    },
  );

  it('without a registry option, prom-client is chosen when both are installed', async () => {
    const { app } = await startApp(kind, { imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })] });
    try {
      expect(app.get(AppRegistry).client.seam.name).toBe('prom-client');
    } finally {
      await app.close();
    }
  });
});
