import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import cluster from 'node:cluster';
import type { CounterMetric as Counter, MetricsRegistry as Registry } from '../compat/client-types';
import { globalRegistries, seamOfRegistry } from '../compat/metrics-client';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import {
  COLLECT_RESPONSE,
  isCollectRequest,
  type CollectResponse,
  type MetricJson,
} from './cluster-protocol';
import { collectorFailed, errorText } from '../veza-metrics.messages';

/**
 * The registries of every application of this worker process that answers the primary (two apps
 * may share one), each with how many apps brought it and the smallest per-source budget they set.
 */
const members = new Map<Registry, { count: number; collectTimeoutMs: number }>();
let listener: ((message: unknown) => void) | undefined;

/**
 * The share of the primary's wait a scrape-time source may take: the rest is for the other
 * metrics, serialising the answer and the IPC channel, so that the answer without a slow source
 * still arrives before the primary gives up on the whole worker.
 */
const SOURCE_SHARE_OF_WAIT = 0.75;
/** The counter `MetricsScraper` keeps in each application's registry: the worker's failures go there too. */
const COLLECT_FAILURES_METRIC = 'veza_metrics_collect_failures_total';
/** Failures already logged, by metric and reason: bounded by the number of metrics times two. */
const logged = new Set<string>();
const logger = new Logger('VezaMetrics');

const TIMED_OUT = Symbol('timed out');
/** A metric of a registry, as far as it is read here. */
interface Metric {
  readonly name: string;
  get(): unknown;
}
const metricsOf = (registry: Registry): Metric[] => registry.getMetricsAsArray() as unknown as Metric[];
type Outcome = { ok: MetricJson } | { failed: 'error' | 'timeout'; error?: unknown };

/** One metric's `get()` (which runs its scrape-time source), settled within `budgetMs`. */
function bounded(metric: Metric, budgetMs: number): Promise<Outcome> {
  let work: Promise<unknown>;
  try {
    work = Promise.resolve(metric.get());
  } catch (error) {
    return Promise.resolve({ failed: 'error', error });
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<typeof TIMED_OUT>((resolve) => {
    timer = setTimeout(resolve, budgetMs, TIMED_OUT);
  });
  return Promise.race([work, timeout])
    .then(
      (value): Outcome => {
        if (value === TIMED_OUT) return { failed: 'timeout' };
        const data = value as MetricJson | undefined;
        if (typeof data?.name !== 'string' || !Array.isArray(data.values))
          return { failed: 'error', error: new Error('no values') };
        return { ok: data };
      },
      (error: unknown): Outcome => ({ failed: 'error', error }),
    )
    .finally(() => clearTimeout(timer));
}

function reportFailure(
  registry: Registry,
  metric: string,
  reason: 'error' | 'timeout',
  error: unknown,
): void {
  try {
    (registry.getSingleMetric(COLLECT_FAILURES_METRIC) as Counter<'metric' | 'reason'> | undefined)?.inc({
      metric,
      reason,
    });
  } catch {
    // A counter of another shape under that name: the failure is still left out and logged.
  }
  const key = `${metric}:${reason}`;
  if (logged.has(key)) return;
  logged.add(key);
  logger.warn(collectorFailed(metric, reason, error));
}

/**
 * `metrics` as `registry.getMetricsAsJSON()` gives them (default labels included), except that
 * each metric is collected under its own timeout: one whose scrape-time source fails or hangs is
 * left out (its name in `omitted`, the failure counted in `counted`) and the rest answered.
 */
async function collectMetrics(
  registry: Registry,
  metrics: readonly Metric[],
  budgetMs: number,
  counted: Registry,
): Promise<{ answered: MetricJson[]; omitted: string[] }> {
  const outcomes = await Promise.all(metrics.map((metric) => bounded(metric, budgetMs)));
  const answered: MetricJson[] = [];
  const omitted: string[] = [];
  outcomes.forEach((outcome, i) => {
    if ('ok' in outcome) {
      answered.push(withDefaultLabels(registry, outcome.ok));
      return;
    }
    omitted.push(metrics[i].name);
    reportFailure(counted, metrics[i].name, outcome.failed, outcome.error);
  });
  if (omitted.length > 0 && counted === registry) await withFailuresCounted(registry, answered);
  return { answered, omitted };
}

/** As prom-client's getMetricsAsJSON: a copy of each series' labels, the registry's default labels filled in. */
function withDefaultLabels(registry: Registry, data: MetricJson): MetricJson {
  const defaults = seamOfRegistry(registry)?.defaultLabelsOf(registry) ?? {};
  const names = Object.keys(defaults);
  if (names.length === 0) return data;
  const values = data.values.map((v) => {
    const labels = { ...v.labels };
    for (const name of names) labels[name] = labels[name] || defaults[name];
    return { ...v, labels };
  });
  return { ...data, values };
}

/**
 * The failure counter read again once this answer's failures are counted: so that the answer that
 * leaves a metric out also says so (read before, it holds none for a first failure).
 */
async function withFailuresCounted(counted: Registry, answered: MetricJson[]): Promise<void> {
  const index = answered.findIndex((m) => m.name === COLLECT_FAILURES_METRIC);
  const counter = counted.getSingleMetric(COLLECT_FAILURES_METRIC) as Metric | undefined;
  if (index === -1 || !counter) return;
  const outcome = await bounded(counter, 1_000);
  if ('ok' in outcome) answered[index] = withDefaultLabels(counted, outcome.ok);
}

/**
 * Every member registry's metrics, then those other code registered in the global registry of each
 * installed client (`@willsoto/nestjs-prometheus`'s), once per process, as `/metrics` shows them;
 * with, registry by registry, the metrics left out.
 */
async function collect(
  waitMs: number | undefined,
): Promise<{ metrics: MetricJson[][]; omitted: string[][] }> {
  const share = waitMs === undefined ? Infinity : Math.max(1, Math.floor(waitMs * SOURCE_SHARE_OF_WAIT));
  const budget = (collectTimeoutMs: number): number => Math.min(collectTimeoutMs, share);
  const entries = [...members.entries()];
  const parts = entries.map(([registry, member]) =>
    collectMetrics(registry, metricsOf(registry), budget(member.collectTimeoutMs), registry),
  );
  if (entries.length > 0) {
    const taken = new Set(entries.flatMap(([registry]) => metricsOf(registry).map((m) => m.name)));
    const smallest = Math.min(...entries.map(([, member]) => member.collectTimeoutMs));
    for (const globalRegistry of globalRegistries()) {
      if (members.has(globalRegistry)) continue;
      const foreign = metricsOf(globalRegistry).filter((m) => !taken.has(m.name));
      for (const m of foreign) taken.add(m.name);
      if (foreign.length > 0)
        parts.push(collectMetrics(globalRegistry, foreign, budget(smallest), entries[0][0]));
    }
  }
  const collected = await Promise.all(parts);
  return { metrics: collected.map((c) => c.answered), omitted: collected.map((c) => c.omitted) };
}

function answer(message: unknown): void {
  if (!isCollectRequest(message)) return;
  const reply = (response: CollectResponse): void => {
    // The channel may be closing (the primary is going away): nothing to answer to then.
    if (process.connected && process.send) process.send(response, undefined, undefined, () => undefined);
  };
  const waitMs =
    typeof message.timeoutMs === 'number' && message.timeoutMs > 0 ? message.timeoutMs : undefined;
  collect(waitMs).then(
    ({ metrics, omitted }) =>
      reply({
        type: COLLECT_RESPONSE,
        id: message.id,
        metrics,
        ...(omitted.some((o) => o.length > 0) ? { omitted } : {}),
      }),
    (error: unknown) => reply({ type: COLLECT_RESPONSE, id: message.id, error: errorText(error) }),
  );
}

function join(registry: Registry, collectTimeoutMs: number): void {
  const member = members.get(registry);
  if (member) {
    member.count++;
    member.collectTimeoutMs = Math.min(member.collectTimeoutMs, collectTimeoutMs);
  } else members.set(registry, { count: 1, collectTimeoutMs });
  if (listener) return;
  listener = answer;
  process.on('message', listener);
}

function leave(registry: Registry): void {
  const member = members.get(registry);
  if (member && member.count > 1) member.count--;
  else members.delete(registry);
  if (members.size > 0 || !listener) return;
  // A 'message' listener keeps the IPC channel (and so the worker) alive: gone with the last app.
  process.off('message', listener);
  listener = undefined;
}

/**
 * In a Node `cluster` worker (option `cluster`, on by default), answers the primary's
 * `ClusterMetricsAggregator` with this application's metrics, from the moment the application has
 * started until it closes. Each scrape-time source gets the application's `scrape.collectTimeoutMs`,
 * and at most three quarters of the primary's wait: one that fails or hangs is left out of that
 * answer (and counted in `veza_metrics_collect_failures_total`), the rest is answered. Does nothing
 * in a process that is not a cluster worker.
 */
@Injectable()
export class ClusterWorkerMetrics implements OnApplicationBootstrap, OnModuleDestroy {
  private joined = false;

  constructor(private readonly metrics: VezaMetricsRegistry) {}

  onApplicationBootstrap(): void {
    if (!this.metrics.options.cluster || !cluster.isWorker || this.joined) return;
    join(this.metrics.registry, this.metrics.options.endpoint.scrape.collectTimeoutMs);
    this.joined = true;
  }

  onModuleDestroy(): void {
    if (!this.joined) return;
    leave(this.metrics.registry);
    this.joined = false;
  }
}
