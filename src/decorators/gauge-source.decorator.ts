import { findCatalogEntry, type VezaMetricName } from '../catalog/catalog';
import { declareGaugeSource } from '../instrumentation/gauge-sources';
import { gaugeSourceNotAGauge, unknownCatalogMetric, wrongLabelNames } from '../veza-metrics.messages';
import { methodPlace } from '../instrumentation/instrument-method';

/** The catalog's gauges: what `@GaugeSource` can read. */
export type VezaGaugeName =
  | 'veza_auth_sessions_active'
  | 'veza_database_connections_active'
  | 'veza_active_users'
  | 'veza_websocket_connections_active'
  | 'veza_health_check_status'
  | 'veza_live_streams_active'
  | 'veza_live_stream_viewers_total';

/** Options of {@link GaugeSource}. */
export interface GaugeSourceOptions {
  /** The series' labels, for a labelled gauge (`veza_health_check_status` needs `{ service }`). */
  labels?: Readonly<Record<string, string>>;
}

/**
 * Marks a provider method (no arguments; returns a number, or a Promise of one) as the source of a
 * catalog gauge that is state rather than events: it is called when Prometheus scrapes, and the gauge
 * set to what it answers. The provider must be a singleton. The method itself is not changed.
 *
 * @example
 * ```ts
 * @Injectable()
 * export class PresenceService {
 *   @GaugeSource(VezaMetric.ActiveUsers)
 *   activeUsers(): number { return this.online.size; }
 * }
 * ```
 */
export function GaugeSource(
  metric: VezaGaugeName | (string & {}),
  options?: GaugeSourceOptions,
): MethodDecorator {
  const decorator = `@GaugeSource(${JSON.stringify(metric)})`;
  return (target: object, key: string | symbol, descriptor: PropertyDescriptor): void => {
    const place = methodPlace(decorator, target, key, descriptor);
    const entry = findCatalogEntry(metric);
    if (!entry) throw new Error(unknownCatalogMetric(decorator, place, metric));
    if (entry.kind !== 'gauge') throw new Error(gaugeSourceNotAGauge(decorator, place, metric, entry.kind));
    const labels = options?.labels ?? {};
    const given = Object.keys(labels);
    const exact =
      given.length === entry.labelNames.length &&
      entry.labelNames.every((l) => typeof labels[l] === 'string');
    if (!exact) throw new Error(wrongLabelNames(decorator, place, given, entry.labelNames));
    declareGaugeSource(target, {
      metric: entry.name as VezaMetricName,
      labels: { ...labels },
      key,
      place,
      decorator,
    });
  };
}
