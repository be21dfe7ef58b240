/**
 * A label function that returns an object with many keys (issue #21, item 5):
 * `node --no-warnings -r ./bench/http-register.js bench/label-objects.bench.ts`.
 *
 * One decorator's label cache (`CellCache`, what `@Counted`, `@Timed` and `@InProgress` use) given,
 * side by side in one run, a label object with exactly the metric's label name and a request body of
 * BENCH_KEYS (50,000) keys holding that name: the time per call of each (median of 7 rounds), and
 * `met` when the body costs at most 2 µs more per call than the exact object (target: O(label
 * names), not O(keys)). A call that throws counts as a call (before the fix, each body threw).
 */
import { Counter, Registry } from 'prom-client';
import { CellCache } from '../src/instrumentation/labels';
import { counterCell } from '../src/instrumentation/cells';

const KEYS = Number(process.env.BENCH_KEYS ?? 50_000);
const CALLS = Number(process.env.BENCH_CALLS ?? 200);
const ROUNDS = 7;

const registry = new Registry();
const counter = new Counter({
  name: 'bench_plans_total',
  help: 'h',
  labelNames: ['plan'],
  registers: [registry],
});
// One cache per object, as two decorated methods would have: each lists its object's keys at most once.
const cacheOf = new Map<object, CellCache<ReturnType<typeof counterCell>>>();
const cacheFor = (labels: object) => {
  let cache = cacheOf.get(labels);
  if (!cache)
    cacheOf.set(
      labels,
      (cache = new CellCache(
        ['plan'],
        (l) => counterCell(counter, l),
        () => undefined,
      )),
    );
  return cache;
};

const exact = { plan: 'pro' };
const body: Record<string, unknown> = {};
for (let i = 0; i < KEYS; i++) body[`field${i}`] = i;
body.plan = 'pro';

function perCall(labels: Record<string, unknown>): number {
  const cache = cacheFor(labels);
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < CALLS; i++) {
    try {
      cache.get(labels).inc();
    } catch {
      // a refused call (before the fix): counted all the same
    }
  }
  return Number(process.hrtime.bigint() - t0) / CALLS / 1000;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rounds = { exact: [] as number[], body: [] as number[] };
for (let r = 0; r < ROUNDS; r++) {
  rounds.exact.push(perCall(exact));
  rounds.body.push(perCall(body));
}
const e = median(rounds.exact);
const b = median(rounds.body);
console.log(`label object with the label name only: ${e.toFixed(3)} µs per call`);
console.log(`request body of ${KEYS} keys:           ${b.toFixed(3)} µs per call`);
console.log(`target (body within 2 µs of exact): ${b - e <= 2 ? 'met' : 'not met'}`);
