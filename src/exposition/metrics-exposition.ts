import { Injectable } from '@nestjs/common';
import type { AnyMetric } from '../compat/client-types';
import { metricsOf } from '../compat/metrics-client';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import { renderExposition, type CollectFailure, type ExpositionFormat } from './render-exposition';

/** Rendering yields to the event loop after this many milliseconds of work. */
const RENDER_SLICE_MS = 5;

/**
 * Limits of one render of the exposition (`/metrics` passes those of the module's `scrape` option).
 * Every field is optional where a method takes `Partial<RenderLimits>`.
 */
export interface RenderLimits {
  /**
   * The `performance.now()` time by which the render ends: metrics not collected by then are left out.
   * @defaultValue now plus `scrape.timeoutMs`
   */
  readonly deadline: number;
  /** One scrape-time source's budget (a gauge's `collect`, a `@GaugeSource`). @defaultValue `scrape.collectTimeoutMs` */
  readonly collectTimeoutMs: number;
  /** Told of each metric left out of this render, and why. @defaultValue does nothing */
  readonly onCollectFailure: (metric: string, reason: CollectFailure, error?: unknown) => void;
}

/**
 * The application's exposition, for `/metrics`, the Pushgateway and the cluster worker: its
 * registry followed by the metrics other code registered in the global registry of each installed
 * client (the first of a name wins), byte for byte in the client's text format, or in OpenMetrics or
 * Prometheus' protobuf format.
 */
@Injectable()
export class MetricsExposition {
  constructor(
    private readonly app: AppRegistry,
    @InjectVezaMetricsOptions() private readonly options: ResolvedOptions,
  ) {}

  /** The Content-Type of the exposition: the client's exactly. */
  get contentType(): string {
    return this.app.registry.contentType;
  }

  /** The exposition as text (the text formats; protobuf is binary: see {@link MetricsExposition.renderBytes}). */
  async render(format: ExpositionFormat = 'text', limits: Partial<RenderLimits> = {}): Promise<string> {
    return (await this.renderBytes(format, limits)).toString('utf8');
  }

  /** The exposition as bytes (UTF-8 text, or protobuf), built outside V8's heap. */
  async renderBytes(format: ExpositionFormat = 'text', limits: Partial<RenderLimits> = {}): Promise<Buffer> {
    return Buffer.concat(await this.renderChunks(format, limits));
  }

  /** The exposition as the list of chunks it is built in, never joined: what `/metrics` sends. */
  renderChunks(format: ExpositionFormat = 'text', limits: Partial<RenderLimits> = {}): Promise<Buffer[]> {
    const now = performance.now();
    const { registry, client } = this.app;
    const { scrape } = this.options.endpoint;
    return renderExposition([...metricsOf(registry), ...this.foreignMetrics()], {
      format,
      defaultLabels: client.seam.defaultLabelsOf(registry) ?? this.options.defaultLabels,
      collectTimeoutMs: limits.collectTimeoutMs ?? scrape.collectTimeoutMs,
      deadline: limits.deadline ?? now + scrape.timeoutMs,
      sliceMs: RENDER_SLICE_MS,
      onCollectFailure: limits.onCollectFailure ?? (() => undefined),
    });
  }

  /** Metrics of the other registries whose names this application's registry does not hold (the first wins). */
  private foreignMetrics(): AnyMetric[] {
    const own = this.app.registry;
    const taken = new Set<string>();
    const out: AnyMetric[] = [];
    for (const registry of this.app.otherRegistries()) {
      for (const metric of metricsOf(registry)) {
        const name = (metric as unknown as { name: string }).name;
        if (taken.has(name) || own.getSingleMetric(name) !== undefined) continue;
        taken.add(name);
        out.push(metric);
      }
    }
    return out;
  }
}
