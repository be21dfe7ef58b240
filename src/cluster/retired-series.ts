import type { MetricJson } from './cluster-protocol';
import { nativeWeight, sumNativeParts } from './native-parts';

/**
 * The most samples (one value of one series: a counter's series is one, a histogram's is one per
 * bucket plus `_sum` and `_count`) kept for exited workers. With the same label sets in every worker
 * (no per-process labels) the base never holds more than one worker's counters and histograms,
 * however many workers come and go; the cap is for label sets that differ per process. It holds
 * one worker with its HTTP histogram at the default series cap (2,000 series of 17 samples), and
 * at most 40 MB of heap when full (33 MB measured by `bench/memory-cluster.bench.ts`): about what
 * the primary holds for one live worker answering as many samples.
 */
export const MAX_RETIRED_SAMPLES = 50_000;

type Sample = MetricJson['values'][number];

interface Family {
  readonly help: string;
  readonly type: string;
  /** By sample name and label set. */
  readonly samples: Map<string, Sample>;
}

/**
 * A key for a sample within its family: its name and its labels in a fixed order, unambiguous
 * whatever the values hold (names are identifiers, values JSON strings), built by one `join` so
 * that it is one flat string, not a chain of concatenations (three times the memory).
 */
export function sampleKey(sample: {
  metricName?: string;
  labels?: Readonly<Record<string, unknown>>;
}): string {
  const labels = sample.labels ?? {};
  const parts = [sample.metricName ?? ''];
  for (const name of Object.keys(labels).sort())
    parts.push(`${name}=${JSON.stringify(String(labels[name]))}`);
  return parts.join(',');
}

/**
 * The last known counters and histograms of the workers that exited, summed into one set of series:
 * added once per worker (when it exits), and part of every later sum, so that the cluster's counters
 * never go back when a worker dies or is replaced (Prometheus' `rate()` would read a reset). At most
 * `maxSamples` samples: past it, series not already kept are dropped (a series that disappears is
 * stale to Prometheus, not reset); those kept stay exact.
 */
export class RetiredSeries {
  private readonly families = new Map<string, Family>();
  private samples = 0;
  private json: MetricJson[] | undefined = [];

  constructor(private readonly maxSamples = MAX_RETIRED_SAMPLES) {}

  /** How many samples are kept. */
  get size(): number {
    return this.samples;
  }

  /** Adds an exited worker's last values; the number of samples dropped at the cap. */
  add(metrics: readonly MetricJson[]): number {
    let dropped = 0;
    for (const metric of metrics) {
      let family = this.families.get(metric.name);
      for (const sample of metric.values) {
        const value = typeof sample.value === 'number' && Number.isFinite(sample.value) ? sample.value : 0;
        const key = sampleKey(sample);
        const kept = family?.samples.get(key);
        if (kept && family) {
          // A new object, not the kept one changed: a merge still reading the previous `toJson()`
          // (sliced across event-loop turns) goes on seeing the sums as they were when it began.
          const next: Sample = { ...kept, value: kept.value + value };
          dropped += this.addNative(next, sample.native);
          family.samples.set(key, next);
          continue;
        }
        if (this.samples >= this.maxSamples) {
          dropped++;
          continue;
        }
        if (!family) {
          family = { help: metric.help, type: metric.type, samples: new Map() };
          this.families.set(metric.name, family);
        }
        // The labels object came over IPC for this answer alone, which is dropped once retired: kept as it is.
        const { labels, metricName, native } = sample;
        const retired: Sample = metricName === undefined ? { value, labels } : { value, labels, metricName };
        family.samples.set(key, retired);
        this.samples++;
        if (native !== undefined) {
          // A native part (checked when it arrived) counts as its weight in samples (`nativeWeight`).
          const size = nativeWeight(native);
          if (this.samples + size <= this.maxSamples) {
            retired.native = native;
            this.samples += size;
          } else dropped += size;
        }
      }
    }
    this.json = undefined;
    return dropped;
  }

  /**
   * Adds a native part to a kept series': their sum, while both have one (a series kept without one
   * stays without: its count is not the native part's), within the bound; the samples dropped.
   */
  private addNative(kept: Sample, native: Sample['native']): number {
    const before = kept.native;
    if (before === undefined) return 0;
    this.samples -= nativeWeight(before);
    delete kept.native;
    if (native === undefined) return 0;
    const sum = sumNativeParts([before, native]);
    const size = nativeWeight(sum);
    if (this.samples + size > this.maxSamples) return size;
    kept.native = sum;
    this.samples += size;
    return 0;
  }

  /**
   * The kept series, as one worker's answer (the same array until the next `add`). Never changed
   * afterwards: the next `add` replaces the samples it sums into, so a merge may read it across
   * several event-loop turns.
   */
  toJson(): MetricJson[] {
    this.json ??= [...this.families].map(([name, family]) => ({
      name,
      help: family.help,
      type: family.type,
      aggregator: 'sum',
      values: [...family.samples.values()],
    }));
    return this.json;
  }
}
