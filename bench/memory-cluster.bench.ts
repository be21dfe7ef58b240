/**
 * What the cluster primary keeps for exited workers, measured:
 * `node --expose-gc --no-warnings -r ./bench/http-register.js bench/memory-cluster.bench.ts`.
 *
 * The primary folds each exited worker's last counters and histograms into one retained base
 * (`RetiredSeries`), so that the cluster's sums never go back. Workers with the same label sets add
 * nothing to it, however many come and go; label sets that differ per worker (a pid label, say) grow
 * it up to `MAX_RETIRED_SAMPLES`, and no further. This fills it the worst way (every exited worker
 * brings 5,000 samples no other had: HTTP histogram samples of five labels), past its cap, then has
 * 200 workers with identical series exit, and prints the heap (after GC) it holds at each step next
 * to the stated limit.
 */
import { MAX_RETIRED_SAMPLES, RetiredSeries } from '../src/cluster/retired-series';
import type { MetricJson } from '../src/cluster/cluster-protocol';

/** The stated bound: heap held by a retained base at its cap, JSON view included. */
const LIMIT_MB = 40;
const SAMPLES_PER_WORKER = 5_000;
const BOUNDS = ['0.005', '0.01', '0.025', '0.05', '0.1', '0.25', '0.5', '1', '2.5', '5', '10', '+Inf'];

const gc = (): void => {
  const collect = (globalThis as { gc?: () => void }).gc;
  if (!collect) throw new Error('run with node --expose-gc');
  collect();
  collect();
};

const heapMb = (): number => {
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

/** One exited worker's last answer: `SAMPLES_PER_WORKER` histogram samples on routes of its own. */
function workerAnswer(worker: number): MetricJson[] {
  const values: MetricJson['values'] = [];
  for (let route = 0; values.length < SAMPLES_PER_WORKER; route++) {
    const labels = {
      method: 'GET',
      endpoint: `/w${worker}/tracks/r${route}`,
      status: '2xx',
      service: 'veza-api',
    };
    for (const le of BOUNDS)
      values.push({
        value: 3,
        labels: { ...labels, le },
        metricName: 'veza_http_request_duration_seconds_bucket',
      });
    values.push({ value: 0.42, labels, metricName: 'veza_http_request_duration_seconds_sum' });
    values.push({ value: 3, labels, metricName: 'veza_http_request_duration_seconds_count' });
  }
  return [
    {
      name: 'veza_http_request_duration_seconds',
      help: 'HTTP request duration',
      type: 'histogram',
      aggregator: 'sum',
      values,
    },
  ];
}

function main(): void {
  const before = heapMb();
  const retired = new RetiredSeries();
  let dropped = 0;
  let workers = 0;
  // Up to the cap and as far again: the half past it is dropped.
  while (workers * SAMPLES_PER_WORKER < 2 * MAX_RETIRED_SAMPLES)
    dropped += retired.add(workerAnswer(workers++));
  retired.toJson();
  const atCap = heapMb() - before;
  // Two hundred more exits of workers whose series are already kept: sums change, memory does not.
  for (let i = 0; i < 200; i++) retired.add(workerAnswer(i % 10));
  retired.toJson();
  const afterChurn = heapMb() - before;

  const met = (mb: number): string => (mb <= LIMIT_MB ? 'met' : 'not met');
  console.log(
    `retained base of exited workers: cap ${MAX_RETIRED_SAMPLES} samples; ${workers} workers of ${SAMPLES_PER_WORKER} distinct samples exited`,
  );
  console.log(`  samples kept ${retired.size}, dropped at the cap ${dropped}`);
  console.log(
    `  heap held at the cap:                 ${atCap.toFixed(1)} MB (limit ${LIMIT_MB} MB) ${met(atCap)}`,
  );
  console.log(
    `  after 200 more exits, same series:    ${afterChurn.toFixed(1)} MB (limit ${LIMIT_MB} MB) ${met(afterChurn)}`,
  );
  console.log(
    `  growth from those 200 exits:          ${(afterChurn - atCap).toFixed(1)} MB (limit 1 MB) ${afterChurn - atCap <= 1 ? 'met' : 'not met'}`,
  );
}

main();
