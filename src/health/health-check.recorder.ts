import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { performance } from 'node:perf_hooks';
import { VezaMetric } from '../catalog/catalog';
import {
  causesOf,
  healthCheckServicesOf,
  isHealthCheckAttempt,
  loadTerminus,
  wrapCheck,
} from '../compat/nest-terminus';
import { errorClassName } from '../http/error-labels';
import { histogramCell, type HistogramCell } from '../instrumentation/cells';
import { boundedLabel } from '../instrumentation/labels';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { CatalogDefinitions } from '../registry/catalog-definitions';
import { detached, MAX_LABEL_VALUE_LENGTH } from '../registry/series-guard';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { healthKeyUnknown, recordingFailed } from '../veza-metrics.messages';
import type { ResolvedHealthOptions } from './health-options';
import { HEALTH_DOWN, indicatorStatus, takeDecoratorRecorded, withSlowness } from './health-status';

/** `service` of every indicator key past `health.maxServices`. */
export const OTHER_SERVICE = '<other>';

/** Promise's own `then`, as the method meter takes it: a subclass that overrides it is still followed in one reaction. */
const promiseThen: (
  this: Promise<unknown>,
  ok: (v: unknown) => unknown,
  ko: (e: unknown) => never,
) => Promise<unknown> = Object.getOwnPropertyDescriptor(Promise.prototype, 'then')?.value as never;

interface ServiceCell {
  readonly duration: HistogramCell;
  readonly labels: { readonly service: string };
}

interface StatusGauge {
  set(labels: Record<string, string>, value: number): void;
}

/**
 * The series of `veza_health_check_duration_ms` (or `_seconds`) and `veza_health_check_status` by
 * indicator key. Keys are the application's (a key may hold input when an app builds it from a
 * request): the first `max` distinct keys, cut to 256 units in memory of their own, take a series
 * each; every later key is {@link OTHER_SERVICE}. Bound: `max` entries of at most 256 units, plus
 * `<other>`.
 */
export class HealthSeries {
  private readonly cells = new Map<string, ServiceCell>();
  private other: ServiceCell | undefined;

  constructor(
    private readonly duration: Parameters<typeof histogramCell>[0],
    private readonly status: StatusGauge,
    private readonly scale: number,
    private readonly max: number,
  ) {}

  /** One indicator key: its duration observed once, its status set. */
  record(key: string, ms: number, status: number): void {
    const cell = this.cells.get(key) ?? this.add(key);
    cell.duration.observe(ms * this.scale);
    this.status.set({ ...cell.labels }, status);
  }

  private add(key: string): ServiceCell {
    const cut = key.length > MAX_LABEL_VALUE_LENGTH ? key.slice(0, MAX_LABEL_VALUE_LENGTH) : key;
    const found = cut === key ? undefined : this.cells.get(cut);
    if (found) return found;
    if (this.cells.size >= this.max) return (this.other ??= this.cell(OTHER_SERVICE));
    const cell = this.cell(boundedLabel(cut));
    this.cells.set(detached(cut), cell);
    return cell;
  }

  private cell(service: string): ServiceCell {
    const labels = { service: detached(service) };
    return { duration: histogramCell(this.duration, labels), labels };
  }
}

/**
 * Records every indicator of every `HealthCheckService.check()` of `@nestjs/terminus` in this
 * application, with no code in it (src/compat/nest-terminus.ts): each indicator function is timed
 * from its call to its result, and each key of its result recorded as `service`:
 * `veza_health_check_duration_ms{service}` (in seconds in `veza_health_check_duration_seconds` under
 * `naming: 'strict'`) and `veza_health_check_status{service}` (1 up, 0.5 degraded or slower than
 * `health.slowMs`, 0 down or thrown). The check's result and the exception it throws are the very
 * ones terminus builds: only the indicators it is handed are wrappers, which return, resolve to and
 * throw exactly what the app's do.
 */
@Injectable()
export class HealthCheckRecorder implements OnApplicationBootstrap {
  private readonly logger = new Logger('VezaMetrics');
  private failed = false;
  private unknownLogged = false;

  constructor(
    private readonly modules: ModulesContainer,
    private readonly metrics: VezaMetricsRegistry,
    private readonly definitions: CatalogDefinitions,
    @InjectVezaMetricsOptions() private readonly options: ResolvedOptions<{ health: ResolvedHealthOptions }>,
  ) {}

  onApplicationBootstrap(): void {
    const options = this.options.health;
    if (!options.enabled) return;
    const lib = loadTerminus(this.modules);
    if (!lib) return;
    try {
      const services = healthCheckServicesOf(this.modules, lib);
      if (services.length === 0) return;
      const series = new HealthSeries(
        this.metrics.get(VezaMetric.HealthCheckDuration),
        this.metrics.get(VezaMetric.HealthCheckStatus),
        this.definitions.of(VezaMetric.HealthCheckDuration).scale,
        options.maxServices,
      );
      const timed = (indicator: (...args: unknown[]) => unknown) =>
        this.timed(indicator, series, options.slowMs);
      const map = (indicators: unknown): unknown => {
        if (!Array.isArray(indicators)) return indicators;
        const given = indicators as unknown[];
        const out = new Array<unknown>(given.length);
        for (let i = 0; i < given.length; i++) {
          const h = given[i];
          if (typeof h === 'function') out[i] = timed(h as (...args: unknown[]) => unknown);
          else if (isHealthCheckAttempt(h, lib)) out[i] = timed(() => h);
          else out[i] = h;
        }
        return out;
      };
      for (const service of services) wrapCheck(service, map);
    } catch (error) {
      this.fail(error);
    }
  }

  /** A function that calls `indicator` as it is called, and returns, resolves to and throws what it does. */
  private timed(
    indicator: (...args: unknown[]) => unknown,
    series: HealthSeries,
    slowMs: number,
  ): (...args: unknown[]) => unknown {
    const settled = (outcome: unknown, thrown: boolean, t0: number): void => {
      try {
        const ms = performance.now() - t0;
        if (takeDecoratorRecorded(outcome)) return;
        if (thrown) this.thrown(outcome, ms, series);
        else this.resolved(outcome, ms, series, slowMs);
      } catch (error) {
        this.fail(error);
      }
    };
    return function (this: unknown, ...args: unknown[]): unknown {
      const t0 = performance.now();
      let value: unknown;
      try {
        value = Reflect.apply(indicator, this, args);
      } catch (error) {
        settled(error, true, t0);
        throw error;
      }
      if ((typeof value !== 'object' || value === null) && typeof value !== 'function') {
        settled(value, false, t0);
        return value;
      }
      let then: unknown;
      try {
        then = (value as { then?: unknown }).then;
      } catch {
        return value; // terminus will read it again and fail as it would: nothing to record
      }
      if (typeof then !== 'function') {
        settled(value, false, t0);
        return value;
      }
      // A Promise gets a second `then`; any other thenable (a HealthCheckAttempt, which runs its check
      // on each `then`) is awaited once, here, as terminus would have awaited it.
      const promise =
        value instanceof Promise
          ? value
          : new Promise<unknown>((resolve, reject) => {
              Reflect.apply(then as (...a: unknown[]) => unknown, value, [resolve, reject]);
            });
      try {
        return promiseThen.call(
          promise,
          (result: unknown) => {
            settled(result, false, t0);
            return result;
          },
          (error: unknown) => {
            settled(error, true, t0);
            throw error;
          },
        );
      } catch {
        // A Promise whose `constructor` (or species) could not be read or built: it goes back as it is.
        return promise;
      }
    };
  }

  /** An indicator's result: each key (TM3) under its status, an `up` slower than `slowMs` slow. */
  private resolved(result: unknown, ms: number, series: HealthSeries, slowMs: number): void {
    if (typeof result !== 'object' || result === null) return;
    for (const [key, entry] of Object.entries(result)) {
      const status = indicatorStatus((entry as { status?: unknown } | null)?.status);
      if (status === undefined) continue;
      series.record(key, ms, withSlowness(status, ms, slowMs));
    }
  }

  /** A rejection: each key of a HealthCheckError's causes (TM4) down; one that names no key is not recorded. */
  private thrown(error: unknown, ms: number, series: HealthSeries): void {
    const causes = causesOf(error);
    const keys = causes === undefined ? [] : Object.keys(causes);
    for (const key of keys) series.record(key, ms, HEALTH_DOWN);
    if (keys.length > 0 || this.unknownLogged) return;
    this.unknownLogged = true;
    this.logger.warn(healthKeyUnknown(errorClassName(error)));
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the health check recorder', error));
  }
}
