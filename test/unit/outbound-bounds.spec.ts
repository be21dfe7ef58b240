/**
 * Issue 23 item 4, the attacker's bounds of the outbound recorder, fed directly (what the hub hands
 * it once per request): hosts past `maxHosts`, mapped hosts on every port, and every method and
 * status code a hostile server or a proxy could bring.
 */
import { METHODS } from 'node:http';
import { NO_RESPONSE } from '../../src/outbound/outbound-hub';
import { OUTBOUND_CELL_BOUND, OutboundMetricsRecorder } from '../../src/outbound/outbound-metrics.recorder';
import { metricsContext, type MetricsContext } from '../utils/module';
import { parseExposition } from '../utils/exposition';

interface Internals {
  cells: number;
  kept: Set<string>;
  labelOf: Map<string, string>;
  series: Map<string, Map<string, unknown>>;
}

let context: MetricsContext;
afterEach(() => context?.close());

it('keeps at most maxHosts hosts, a bounded label cache and at most OUTBOUND_CELL_BOUND cells, whatever comes', async () => {
  context = await metricsContext({
    defaultMetrics: false,
    statusLabel: 'code',
    outbound: { maxHosts: 4, hosts: { 'api.stripe.com': 'stripe' } },
    cardinality: { maxSeries: 50 },
  });
  const recorder = context.moduleRef.get(OutboundMetricsRecorder);
  const internals = recorder as unknown as Internals;
  let requests = 0;
  for (let h = 0; h < 12; h++) {
    for (const method of [...METHODS, 'BREW', 'x'.repeat(1000)]) {
      for (let code = 90; code < 610; code++) {
        recorder.record(method, `http://h${h}.example:${8000 + h}`, code, 0.001);
        requests++;
      }
      recorder.record(method, `api.stripe.com:${h}`, NO_RESPONSE, 0.001);
      requests++;
    }
  }
  recorder.record('GET', 'y'.repeat(100_000), 200, 0.001);
  requests++;
  expect(internals.kept.size).toBe(4);
  expect(internals.cells).toBeLessThanOrEqual(OUTBOUND_CELL_BOUND);
  expect(internals.labelOf.size).toBeLessThanOrEqual(2 * 4 + 1 + 16);
  expect([...internals.kept].sort()).toEqual([0, 1, 2, 3].map((h) => `h${h}.example:${8000 + h}`));
  // h0 alone brings 37 methods × 520 codes: the cells past the bound are not kept.
  expect([...internals.series.keys()].sort()).toEqual(['h0.example:8000', 'stripe']);
  const families = parseExposition(await context.render());
  const samples = families.get('veza_http_client_requests_total')?.samples ?? [];
  // The series guard's cap (50) holds, and the overflow series keeps the total exact.
  expect(samples.length).toBeLessThanOrEqual(51);
  expect(samples.reduce((sum, s) => sum + s.value, 0)).toBe(requests);
});
