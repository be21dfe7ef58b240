import { Logger } from '@nestjs/common';
import type { GaugeMetric as Gauge } from '../compat/client-types';
import type { VezaMetricName } from '../catalog/catalog';
import { collectFailuresCounter } from '../exposition/collect-failures';
import type { SelfMetrics } from '../registry/self-metrics';
import type { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { gaugeSourceFailed, notANumber } from '../veza-metrics.messages';
import type { Labels } from './cells';

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
 * gauge. A source that throws, rejects or answers something other than a finite number has its
 * series removed, so that it is left out of that scrape (a last good value served as fresh would be
 * a lie; Prometheus marks the series stale), counted in
 * `veza_metrics_collect_failures_total{metric,reason="error"}` and logged once per method; its next
 * good answer brings the series back. A source that does not answer in time leaves the whole metric
 * out (the render's timeout, `reason="timeout"`). A `collect` already there still runs.
 * Returns what undoes it.
 */
export function installGaugeSources(
  metrics: VezaMetricsRegistry,
  self: SelfMetrics,
  sources: readonly BoundGaugeSource[],
  // The explorer still passes its problem sink; a failing source is a collect failure, not an instrumentation error.
  _unusedSink?: unknown,
): () => void {
  const logger = new Logger('VezaMetrics');
  const failures = collectFailuresCounter(self);
  // Bound: one entry per @GaugeSource method installed here.
  const logged = new Set<string>();
  const byMetric = new Map<VezaMetricName, BoundGaugeSource[]>();
  for (const source of sources) {
    const { metric } = source.spec;
    byMetric.set(metric, [...(byMetric.get(metric) ?? []), source]);
  }
  const undo: Array<() => void> = [];
  for (const [name, list] of byMetric) {
    const gauge = metrics.get(name) as unknown as Gauge<string> & { collect?: Collect; name: string };
    const previous = gauge.collect;
    const collect: Collect = function (this: unknown) {
      const pending: Promise<unknown>[] = [];
      for (const source of list) {
        const { spec } = source;
        const fail = (error: unknown): void => {
          try {
            gauge.remove({ ...spec.labels });
          } catch {
            // A series that cannot be removed was never set: nothing to leave out.
          }
          failures.inc({ metric: gauge.name, reason: 'error' });
          if (logged.has(spec.place)) return;
          logged.add(spec.place);
          logger.warn(gaugeSourceFailed(spec.place, gauge.name, error));
        };
        const apply = (value: unknown): void => {
          if (typeof value !== 'number' || !Number.isFinite(value))
            fail(new Error(notANumber('the value', value, false)));
          else gauge.set({ ...spec.labels }, value);
        };
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
