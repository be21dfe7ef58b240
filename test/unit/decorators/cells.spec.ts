import fc from 'fast-check';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { CountOrder, VezaMetric } from '../../../src';
import { counterCell, gaugeCell, histogramCell } from '../../../src/instrumentation/cells';
import { layoutOf } from '../../../src/compat/metrics-client';
import { captureWarnings, harness } from './harness';

/*
 * The cells a decorator resolves at bootstrap write straight into prom-client's entries. Whatever
 * else happens to the metric (reset, remove, set, the public API), the exposition must be exactly
 * what prom-client's own calls would have produced.
 */

const LABELS = [
  { a: 'x', b: 'y' },
  { a: 'x', b: 'z' },
  { a: 'w', b: 'y' },
];

type Op =
  | { op: 'record'; series: number; value: number }
  | { op: 'api'; series: number; value: number }
  | { op: 'reset' }
  | { op: 'remove'; series: number }
  | { op: 'set'; series: number; value: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      op: fc.constant('record' as const),
      series: fc.nat({ max: 2 }),
      value: fc.double({ min: 0, max: 2000, noNaN: true }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({
      op: fc.constant('api' as const),
      series: fc.nat({ max: 2 }),
      value: fc.double({ min: 0, max: 2000, noNaN: true }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ op: 'reset' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('remove' as const), series: fc.nat({ max: 2 }) }) },
  {
    weight: 1,
    arbitrary: fc.record({
      op: fc.constant('set' as const),
      series: fc.nat({ max: 2 }),
      value: fc.integer({ min: -5, max: 5 }),
    }),
  },
);

function twins<M>(make: (registry: Registry) => M): [M, M, Registry, Registry] {
  const r1 = new Registry();
  const r2 = new Registry();
  return [make(r1), make(r2), r1, r2];
}

describe('series resolved at bootstrap stay exactly consistent with prom-client', () => {
  it('this client has the layout the fast path relies on (checked once per process against its public API)', () => {
    expect(layoutOf(new Counter({ name: 'probe', help: 'p', registers: [] }))).toBeDefined();
  });

  it('counters, gauges and histograms, through any mix of recordings, reset, remove and set', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(op, { maxLength: 40 }),
        fc.constantFrom('counter', 'gauge', 'histogram'),
        async (ops, kind) => {
          const labelNames = ['b', 'a'];
          const [fast, plain, r1, r2] = twins((registry) =>
            kind === 'counter'
              ? new Counter({ name: 'm', help: 'm', labelNames, registers: [registry] })
              : kind === 'gauge'
                ? new Gauge({ name: 'm', help: 'm', labelNames, registers: [registry] })
                : new Histogram({
                    name: 'm',
                    help: 'm',
                    labelNames,
                    buckets: [0.5, 1, 1024, 2048],
                    registers: [registry],
                  }),
          );
          const series = LABELS.map((l) =>
            kind === 'counter'
              ? counterCell(fast as Counter<string>, l)
              : kind === 'gauge'
                ? gaugeCell(fast as Gauge<string>, l)
                : histogramCell(fast as Histogram<string>, l),
          );
          for (const o of ops) {
            for (const [metric, viaSeries] of [
              [fast, true],
              [plain, false],
            ] as const) {
              const labels = 'series' in o ? { ...(LABELS[o.series] as Record<string, string>) } : {};
              if (o.op === 'reset') metric.reset();
              else if (o.op === 'remove') metric.remove(labels);
              else if (o.op === 'set') {
                if (kind === 'gauge') (metric as Gauge<string>).set(labels, o.value);
              } else if (o.op === 'record' && viaSeries) {
                const s = series[o.series] as { inc?: () => void; observe?: (v: number) => void };
                if (kind === 'histogram') s.observe?.(o.value);
                else s.inc?.();
              } else if (kind === 'histogram') (metric as Histogram<string>).observe(labels, o.value);
              else (metric as Counter<string>).inc(labels, 1);
            }
          }
          expect(await r1.metrics()).toBe(await r2.metrics());
        },
      ),
      { numRuns: 300 },
    );
  });

  it('an unlabelled histogram observes values on bounds, between and above them like prom-client', async () => {
    const [fast, plain, r1, r2] = twins(
      (registry) => new Histogram({ name: 'h', help: 'h', buckets: [0.001, 0.01, 1], registers: [registry] }),
    );
    const s = histogramCell(fast);
    for (const v of [0, 0.001, 0.0010001, 0.5, 1, 1.5, 1e9]) {
      s.observe(v);
      plain.observe(v);
    }
    expect(await r1.metrics()).toBe(await r2.metrics());
  });

  it('a decorator writing past the series cap of the application is folded into its overflow series, totals exact', async () => {
    class Shop {
      @CountOrder({ status: (s: string) => s })
      order(status: string) {
        return status;
      }
    }
    const shop = new Shop();
    const warnings = captureWarnings();
    const h = harness([shop], { cardinality: { perMetric: { [VezaMetric.CommerceOrders]: 2 } } });
    try {
      for (const status of ['pending', 'completed', 'refunded', 'refunded', 'pending']) shop.order(status);
      expect(await h.value(VezaMetric.CommerceOrders, { status: 'pending' })).toBe(2);
      expect(await h.value(VezaMetric.CommerceOrders, { status: 'completed' })).toBe(1);
      expect(await h.value(VezaMetric.CommerceOrders, { status: '__overflow__' })).toBe(2);
      expect(warnings.messages).toHaveLength(1);
    } finally {
      h.close();
      warnings.restore();
    }
  });
});
