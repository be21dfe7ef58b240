import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import cluster from 'node:cluster';
import type { CounterMetric as Counter, GaugeMetric as Gauge, MetricsRegistry } from '../compat/client-types';
import { metricsOf } from '../compat/metrics-client';
import { aggregate } from '../cluster/aggregate';
import { addAnswering, removeAnswering } from '../cluster/cluster-worker';
import type { MetricJson } from '../cluster/cluster-protocol';
import type { RenderLimits } from '../exposition/metrics-exposition';
import { renderExposition, type ExpositionFormat } from '../exposition/render-exposition';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import { SelfMetrics } from '../registry/self-metrics';
import { errorText, pm2DirectoryFailed, pm2DiskFailed, pm2LockTimedOut } from '../veza-metrics.messages';
import { Pm2Collector } from './pm2-collector';
import { prepareDirectory, stemOf } from './pm2-directory';
import { defaultPm2Directory, pm2InstanceOf, type ResolvedPm2Options } from './pm2-options';
import { Pm2Peer } from './pm2-peer';

/** Rendering yields to the event loop after this many milliseconds of work (as the module's render). */
const RENDER_SLICE_MS = 5;
/** How long an instance's start-up spends folding the exited instances it finds. */
const START_FOLD_MS = 2_000;

/**
 * The process's socket in each directory, shared by its applications (two apps in one process must
 * not take each other's socket): closed, with the final state written, when the last one leaves.
 */
const peers = new Map<string, { peer: Promise<Pm2Peer>; count: number }>();

async function joinPeer(dir: string, stem: string, claim: () => Promise<unknown>): Promise<Pm2Peer> {
  let entry = peers.get(dir);
  if (!entry) {
    const peer = new Pm2Peer(dir, stem);
    // Claimed before listening, once per process: another app of this process listens already.
    entry = { peer: claim().then(() => peer.listen().then(() => peer)), count: 0 };
    peers.set(dir, entry);
  }
  entry.count++;
  try {
    return await entry.peer;
  } catch (error) {
    if (peers.get(dir) === entry) peers.delete(dir);
    throw error;
  }
}

async function leavePeer(peer: Pm2Peer): Promise<void> {
  for (const [dir, entry] of peers) {
    if ((await entry.peer.catch(() => undefined)) !== peer) continue;
    if (--entry.count > 0) return;
    peers.delete(dir);
    await peer.close();
    return;
  }
}

/**
 * pm2's cluster mode (option `pm2`): in an instance of a pm2 app started with `-i N`, every scrape
 * of this instance's `/metrics` (or `metricsServer`) serves the sum over every live instance of the
 * app, merged as `serveClusterMetrics` merges a Node cluster's workers, and the counters of exited
 * instances stay in it (docs/operations.md, "pm2"). Does nothing outside pm2's cluster mode.
 */
@Injectable()
export class Pm2Metrics implements OnApplicationBootstrap, OnModuleDestroy {
  private peer: Pm2Peer | undefined;
  private collector: Pm2Collector | undefined;
  private readonly logger = new Logger('VezaMetrics');
  /** The final state being written (once): see `onModuleDestroy`. */
  private leaving: Promise<void> | undefined;
  /** The scraped instance's view of the latest scrape: rendered after the sum, never summed. */
  private local:
    { registry: MetricsRegistry; workers: Gauge; up: Gauge<'pm2_instance'>; retired: Gauge } | undefined;

  /** @internal Nest's injector builds it; the module provides it. */
  constructor(
    private readonly app: AppRegistry,
    private readonly self: SelfMetrics,
    @InjectVezaMetricsOptions()
    private readonly options: ResolvedOptions<{ pm2: ResolvedPm2Options }>,
  ) {}

  /** Whether scrapes of this instance serve the app's sum. */
  get active(): boolean {
    return this.collector !== undefined;
  }

  async onApplicationBootstrap(): Promise<void> {
    const options = this.options.pm2;
    const instance = pm2InstanceOf();
    if (!options.enabled || !instance || !cluster.isWorker || this.peer) return;
    const dir = options.directory ?? defaultPm2Directory(instance.app);
    try {
      await prepareDirectory(dir);
    } catch (error) {
      // The user's own directory: their mistake, said at start-up. The default one: taken by
      // someone else (a squatter in /tmp), which must not stop the application.
      if (options.directory !== undefined) throw error;
      this.logger.error(pm2DirectoryFailed(dir, error));
      return;
    }
    const timeouts: Counter = this.self.counter(
      'veza_metrics_pm2_worker_timeouts_total',
      'pm2 instances that did not send their metrics within the timeout (their last answer was used)',
      [],
    );
    const errors: Counter = this.self.counter(
      'veza_metrics_pm2_worker_errors_total',
      'pm2 instances that answered with an error or could not be asked (their last answer was used)',
      [],
    );
    const collector = new Pm2Collector(
      dir,
      options,
      { timedOut: () => timeouts.inc(), failed: () => errors.inc() },
      () => this.peer?.listenAgainIfGone() ?? Promise.resolve(false),
    );
    const me = {
      stem: stemOf(instance.instance, process.pid),
      instance: instance.instance,
      pid: process.pid,
    };
    addAnswering(this.app.registry, this.options.endpoint.scrape.collectTimeoutMs);
    try {
      this.peer = await joinPeer(dir, me.stem, async () => {
        // Not had (a lock held for long, a disk that refuses): said, and the instance goes on.
        const claimed = await collector.claim(me, performance.now() + START_FOLD_MS).catch((error) => {
          this.logger.warn(pm2DiskFailed(dir, errorText(error)));
          return true;
        });
        if (!claimed) this.logger.warn(pm2LockTimedOut(dir));
      });
    } catch (error) {
      removeAnswering(this.app.registry);
      this.logger.error(pm2DirectoryFailed(dir, error));
      return;
    }
    this.collector = collector;
    this.local = this.localMetrics();
    // The registry the module owns is cleared by its provider's onModuleDestroy, which Nest 10 and 11
    // call at once with this one's, and first (they go in the order providers are listed): it waits
    // for this instance's final state, or that state would hold nothing (its counts lost at a reload).
    const registry = this.app;
    const clear = registry.onModuleDestroy.bind(registry);
    Object.defineProperty(registry, 'onModuleDestroy', {
      configurable: true,
      writable: true,
      value: async (): Promise<void> => {
        await this.onModuleDestroy();
        clear();
      },
    });
    // The files of instances that exited while nobody scraped: folded now, so they never pile up.
    void this.collector.foldExited(performance.now() + START_FOLD_MS).catch(() => undefined);
  }

  /**
   * Writes this instance's final state and leaves, once, before the registry the module owns is
   * cleared (see `onApplicationBootstrap`), so the state holds everything counted until now.
   */
  onModuleDestroy(): Promise<void> {
    return (this.leaving ??= this.leave());
  }

  private async leave(): Promise<void> {
    const peer = this.peer;
    if (!peer) return;
    this.peer = undefined;
    this.collector = undefined;
    await leavePeer(peer);
    removeAnswering(this.app.registry);
  }

  /** The app's sum over its live instances, and the retired base, within a scrape's limits: what `/metrics` sends. */
  async renderChunks(format: ExpositionFormat, limits: RenderLimits): Promise<Buffer[]> {
    const collector = this.collector;
    const local = this.local;
    if (!collector || !local) throw new Error('pm2 aggregation is not running');
    const { parts, answered, asked, retiredSamples } = await collector.collect(limits.deadline);
    local.workers.set(asked);
    local.up.reset();
    for (const [instance, up] of answered) local.up.set({ pm2_instance: instance }, up ? 1 : 0);
    local.retired.set(retiredSamples);
    const merged = await aggregate(
      this.app.client,
      parts.map((metrics) => metrics.map((m) => this.withAggregator(m))),
    );
    return renderExposition([...metricsOf(merged), ...metricsOf(local.registry)], {
      format,
      defaultLabels: this.options.defaultLabels,
      collectTimeoutMs: limits.collectTimeoutMs,
      deadline: limits.deadline,
      sliceMs: RENDER_SLICE_MS,
      onCollectFailure: limits.onCollectFailure,
    });
  }

  private withAggregator(metric: MetricJson): MetricJson {
    const wanted = this.options.pm2.aggregators[metric.name];
    return wanted && wanted !== metric.aggregator ? { ...metric, aggregator: wanted } : metric;
  }

  private localMetrics(): NonNullable<Pm2Metrics['local']> {
    const { Gauge, Registry } = this.app.client;
    const registry = new Registry();
    const registers = [registry];
    return {
      registry,
      workers: new Gauge({
        name: 'veza_metrics_pm2_workers',
        help: 'pm2 instances of the app asked for their metrics by this scrape',
        registers,
      }),
      up: new Gauge({
        name: 'veza_metrics_pm2_worker_up',
        help: 'Whether the pm2 instance (NODE_APP_INSTANCE) answered this scrape',
        labelNames: ['pm2_instance'],
        registers,
      }),
      retired: new Gauge({
        name: 'veza_metrics_pm2_retired_samples',
        help: 'Samples of exited pm2 instances kept in the sum',
        registers,
      }),
    };
  }
}
