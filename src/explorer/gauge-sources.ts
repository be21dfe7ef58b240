import type { Gauge } from 'prom-client';
import type { VezaMetricName } from '../catalog/catalog';
import type { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { notANumber } from '../veza-metrics.messages';
import type { ProblemSink } from './recorder';
import type { Labels } from './series';

/** A provider method marked `@GaugeSource(...)`: read when Prometheus scrapes. */
export interface GaugeSourceSpec {
  readonly metric: VezaMetricName;
  readonly labels: Labels;
  readonly key: string | symbol;
  readonly place: string;
  readonly decorator: string;
}

const sourcesOfPrototype = new WeakMap<object, GaugeSourceSpec[]>();

export function declareGaugeSource(prototype: object, spec: GaugeSourceSpec): void {
  const list = sourcesOfPrototype.get(prototype);
  if (list) list.push(spec);
  else sourcesOfPrototype.set(prototype, [spec]);
}

/** The sources declared on `prototype` itself. */
export function gaugeSourcesOf(prototype: object): readonly GaugeSourceSpec[] {
  return sourcesOfPrototype.get(prototype) ?? [];
}

/** A source bound to the instance that answers it. */
export interface BoundGaugeSource {
  readonly instance: Record<string | symbol, unknown>;
  readonly spec: GaugeSourceSpec;
}

type Collect = (this: unknown) => unknown;

/**
 * Installs, on each gauge with sources, a `collect` that reads them (sync or async) and sets the
 * gauge; a source that throws, rejects or answers something other than a finite number is a problem
 * (logged once, counted) and leaves its series as it was. A `collect` already there still runs.
 * Returns what undoes it.
 */
export function installGaugeSources(metrics: VezaMetricsRegistry, sources: readonly BoundGaugeSource[], sink: ProblemSink): () => void {
  const byMetric = new Map<VezaMetricName, BoundGaugeSource[]>();
  for (const source of sources) {
    const { metric } = source.spec;
    byMetric.set(metric, [...(byMetric.get(metric) ?? []), source]);
  }
  const undo: Array<() => void> = [];
  for (const [name, list] of byMetric) {
    const gauge = metrics.get(name) as unknown as Gauge<string> & { collect?: Collect };
    const previous = gauge.collect;
    const collect: Collect = function (this: unknown) {
      const pending: Promise<unknown>[] = [];
      for (const source of list) {
        const { spec } = source;
        const apply = (value: unknown): void => {
          if (typeof value !== 'number' || !Number.isFinite(value))
            sink.problem(spec.place, 'GaugeSource', new Error(notANumber('the value', value, false)));
          else gauge.set({ ...spec.labels }, value);
        };
        const fail = (error: unknown): void => sink.problem(spec.place, 'GaugeSource', error);
        try {
          const value = (source.instance[spec.key] as () => unknown).call(source.instance);
          if (value instanceof Promise) pending.push(value.then(apply, fail));
          else apply(value);
        } catch (error) {
          fail(error);
        }
      }
      const before = typeof previous === 'function' ? previous.call(this) : undefined;
      if (before instanceof Promise) pending.push(before);
      return pending.length > 0 ? Promise.all(pending).then(() => undefined) : undefined;
    };
    gauge.collect = collect;
    undo.push(() => {
      if (gauge.collect === collect) gauge.collect = previous;
    });
  }
  return () => undo.forEach((u) => u());
}
