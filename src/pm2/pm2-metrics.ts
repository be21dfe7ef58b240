import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import cluster from 'node:cluster';
import { randomBytes } from 'node:crypto';
import type { CounterMetric as Counter, GaugeMetric as Gauge, MetricsRegistry } from '../compat/client-types';
import { metricsOf } from '../compat/metrics-client';
import { aggregate, withAggregators } from '../cluster/aggregate';
import { addAnswering, removeAnswering } from '../cluster/cluster-worker';
import type { RenderLimits } from '../exposition/metrics-exposition';
import { renderExposition, type ExpositionFormat } from '../exposition/render-exposition';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import { SelfMetrics } from '../registry/self-metrics';
import { pm2DirectoryFailed } from '../veza-metrics.messages';
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

async function joinPeer(dir: string, stem: string): Promise<Pm2Peer> {
  let entry = peers.get(dir);
  if (!entry) {
    const peer = new Pm2Peer(dir, stem);
    entry = { peer: peer.listen().then(() => peer), count: 0 };
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
export class Pm2Metrics implements OnApplicationBootstrap, BeforeApplicationShutdown, OnApplicationShutdown {
  private peer: Pm2Peer | undefined;
  private collector: Pm2Collector | undefined;
  /** Lets the module clear its registry, once the final state is written. */
  private release: (() => void) | undefined;
  private readonly logger = new Logger('VezaMetrics');
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
    const stem = stemOf(instance.instance, process.pid, randomBytes(4).toString('hex'));
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
    addAnswering(this.app.registry, this.options.endpoint.scrape.collectTimeoutMs);
    try {
      this.peer = await joinPeer(dir, stem);
    } catch (error) {
      removeAnswering(this.app.registry);
      this.logger.error(pm2DirectoryFailed(dir, error));
      return;
    }
    this.collector = collector;
    this.local = this.localMetrics();
    // The registry stays as it is until the final state is written (see onApplicationShutdown).
    this.app.keepUntil(new Promise<void>((resolve) => (this.release = resolve)));
    // The files of instances that exited while nobody scraped: folded now, so they never pile up.
    void this.collector.foldExited(performance.now() + START_FOLD_MS).catch(() => undefined);
  }

  /**
   * Nest closes the HTTP server next: the state is written once now, so that an instance killed
   * before the server is closed (pm2's `kill_timeout`) leaves what it counted until here.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.peer?.writeState().catch(() => undefined);
  }

  /**
   * Writes this instance's final state and leaves, once the HTTP server is closed: the requests
   * served until then are in it. Until then the instance answers the others as before, from its
   * registry, which the module keeps for it (`AppRegistry.keepUntil`).
   */
  async onApplicationShutdown(): Promise<void> {
    const peer = this.peer;
    if (!peer) return;
    this.peer = undefined;
    this.collector = undefined;
    try {
      await leavePeer(peer);
    } finally {
      removeAnswering(this.app.registry);
      this.release?.();
      this.release = undefined;
    }
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
    const merged = await aggregate(this.app.client, withAggregators(parts, this.options.pm2.aggregators));
    return renderExposition([...metricsOf(merged), ...metricsOf(local.registry)], {
      format,
      defaultLabels: this.options.defaultLabels,
      collectTimeoutMs: limits.collectTimeoutMs,
      deadline: limits.deadline,
      sliceMs: RENDER_SLICE_MS,
      onCollectFailure: limits.onCollectFailure,
    });
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
