/** Type check (tsc -p tsconfig.json, in npm run lint): both clients' objects satisfy the structural types of src/compat/client-types.ts. */
import * as PC from 'prom-client';
import * as PI from '@prometheus-io/client';
import type {
  AnyMetric,
  CounterMetric,
  GaugeMetric,
  HistogramMetric,
  SummaryMetric,
  MetricsRegistry,
} from '../../src/compat/client-types';
const a1: MetricsRegistry = new PC.Registry();
const a2: MetricsRegistry = new PI.Registry();
const a3: MetricsRegistry = PC.register;
const a4: MetricsRegistry = PI.register;
const c1: CounterMetric<'a' | 'b'> = new PC.Counter<'a' | 'b'>({
  name: 'x',
  help: 'x',
  labelNames: ['a', 'b'],
});
const c2: CounterMetric<'a' | 'b'> = new PI.Counter<'a' | 'b'>({
  name: 'x',
  help: 'x',
  labelNames: ['a', 'b'],
});
const c3: CounterMetric = new PI.Counter({ name: 'x', help: 'x' });
const c4: CounterMetric = new PC.Counter({ name: 'x', help: 'x' });
const g1: GaugeMetric<'a'> = new PC.Gauge<'a'>({ name: 'x', help: 'x', labelNames: ['a'] });
const g2: GaugeMetric<'a'> = new PI.Gauge<'a'>({ name: 'x', help: 'x', labelNames: ['a'] });
const g3: GaugeMetric = new PI.Gauge({ name: 'x', help: 'x' });
const h1: HistogramMetric<'a'> = new PC.Histogram<'a'>({ name: 'x', help: 'x', labelNames: ['a'] });
const h2: HistogramMetric<'a'> = new PI.Histogram<'a'>({ name: 'x', help: 'x', labelNames: ['a'] });
const h3: HistogramMetric = new PI.Histogram({ name: 'x', help: 'x' });
const s1: SummaryMetric = new PC.Summary({ name: 'x', help: 'x' });
const s2: SummaryMetric = new PI.Summary({ name: 'x', help: 'x' });
const m1: AnyMetric[] = [c1, g1, h1, s1];
export { a1, a2, a3, a4, c1, c2, c3, c4, g1, g2, g3, h1, h2, h3, s1, s2, m1 };
