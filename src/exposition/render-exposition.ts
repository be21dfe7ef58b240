import type { Metric } from 'prom-client';
import { setImmediate as nextTurn } from 'node:timers/promises';

/** The two formats a scraper can ask for. */
export type ExpositionFormat = 'text' | 'openmetrics';

/** prom-client's exact Content-Types for the two formats. */
export const CONTENT_TYPES: Readonly<Record<ExpositionFormat, string>> = {
  text: 'text/plain; version=0.0.4; charset=utf-8',
  openmetrics: 'application/openmetrics-text; version=1.0.0; charset=utf-8',
};

/** Why a metric was left out of one scrape. */
export type CollectFailure = 'error' | 'timeout';

export interface RenderOptions {
  readonly format: ExpositionFormat;
  readonly defaultLabels: Readonly<Record<string, string>>;
  /** How long one metric's `collect` (a scrape-time source) may take before it is left out. */
  readonly collectTimeoutMs: number;
  /** Past this instant (`performance.now()` ms), metrics not yet collected are left out as timed out. */
  readonly deadline: number;
  /** Rendering yields to the event loop once it has worked this long without a break. */
  readonly sliceMs: number;
  readonly onCollectFailure: (metric: string, reason: CollectFailure, error?: unknown) => void;
}

interface Sample {
  metricName?: string;
  labels?: Record<string, unknown>;
  sharedLabels?: Record<string, unknown>;
  value: number;
  exemplar?: { labelSet: Record<string, unknown>; value: number; timestamp: number };
}

interface MetricData {
  name: string;
  help: string;
  type: string;
  values?: Sample[];
}

type Collectable = Metric & { name: string; collect?: unknown; getForPromString?: () => Promise<MetricData> };

const TIMED_OUT = Symbol('timed out');

/**
 * Renders metrics in the Prometheus text format (byte for byte what prom-client's
 * `registry.metrics()` renders) or in OpenMetrics, without holding the event loop: scrape-time
 * collectors run concurrently, each under a timeout, one that fails or hangs is left out (and
 * reported) while every other metric is rendered, and the work yields between slices.
 */
export async function renderExposition(metrics: readonly Metric[], options: RenderOptions): Promise<string> {
  const all = metrics as readonly Collectable[];
  // Start the metrics that collect at scrape time first, so slow sources overlap.
  const pending = new Map<Collectable, Promise<MetricData | typeof TIMED_OUT>>();
  for (const metric of all) {
    if (typeof metric.collect === 'function') pending.set(metric, collectWithTimeout(metric, options));
  }
  const families: string[] = [];
  let sliceStart = performance.now();
  for (const metric of all) {
    let data: MetricData | typeof TIMED_OUT;
    try {
      data = await (pending.get(metric) ?? dataOf(metric));
    } catch (error) {
      options.onCollectFailure(metric.name, 'error', error);
      continue;
    }
    if (data === TIMED_OUT) {
      options.onCollectFailure(metric.name, 'timeout');
      continue;
    }
    families.push(renderFamily(data, options));
    if (performance.now() - sliceStart >= options.sliceMs) {
      await nextTurn();
      sliceStart = performance.now();
    }
  }
  return options.format === 'openmetrics' ? `${families.join('\n')}\n# EOF\n` : `${families.join('\n\n')}\n`;
}

function dataOf(metric: Collectable): Promise<MetricData> {
  return typeof metric.getForPromString === 'function' ? metric.getForPromString() : (metric.get() as unknown as Promise<MetricData>);
}

function collectWithTimeout(metric: Collectable, options: RenderOptions): Promise<MetricData | typeof TIMED_OUT> {
  const budget = Math.max(0, Math.min(options.collectTimeoutMs, options.deadline - performance.now()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, budget, TIMED_OUT);
  });
  const data = dataOf(metric);
  // A collector that settles after its timeout must not surface as an unhandled rejection.
  data.catch(() => undefined);
  return Promise.race([data, timeout]).finally(() => clearTimeout(timer));
}

function renderFamily(data: MetricData, options: RenderOptions): string {
  const openMetrics = options.format === 'openmetrics';
  const counter = data.type === 'counter';
  const familyName = openMetrics && counter ? data.name.replace(/_total$/, '') : data.name;
  const name = escapeText(familyName);
  const lines = [`# HELP ${name} ${escapeText(data.help)}`, `# TYPE ${name} ${data.type}`];
  const defaults = Object.keys(options.defaultLabels).length > 0 ? options.defaultLabels : undefined;
  for (const sample of data.values ?? []) {
    let metricName = sample.metricName ?? name;
    if (openMetrics && counter) metricName = `${familyName}_total`;
    let labels: Record<string, unknown> = sample.labels ?? {};
    if (defaults) labels = { ...labels, ...defaults, ...labels };
    const shared = sample.sharedLabels ?? {};
    const parts = formatLabels(labels, shared);
    const flatShared = formatLabels(shared).join(',');
    if (flatShared) parts.push(flatShared);
    let line = `${metricName}${parts.length ? `{${parts.join(',')}}` : ''} ${formatValue(sample.value)}`;
    if (openMetrics && sample.exemplar) {
      const e = sample.exemplar;
      line += ` # {${formatLabels(e.labelSet).join(',')}} ${formatValue(e.value)} ${e.timestamp}`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}

function formatLabels(labels: Record<string, unknown>, exclude?: Record<string, unknown>): string[] {
  const out: string[] = [];
  for (const [name, value] of Object.entries(labels)) {
    if (exclude && Object.prototype.hasOwnProperty.call(exclude, name)) continue;
    out.push(`${name}="${escapeLabelValue(value)}"`);
  }
  return out;
}

function escapeText(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(value: unknown): string {
  const text = typeof value === 'string' ? value : String(value);
  return escapeText(text).replace(/"/g, '\\"');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}
