import { Injectable, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import cluster from 'node:cluster';
import { register as globalRegistry, type Registry } from 'prom-client';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { COLLECT_RESPONSE, isCollectRequest, type CollectResponse, type MetricJson } from './cluster-protocol';
import { errorText } from '../veza-metrics.messages';

/** The registries of every application of this worker process that answers the primary (two apps may share one). */
const members = new Map<Registry, number>();
let listener: ((message: unknown) => void) | undefined;

/**
 * Every member registry's metrics, then those other code registered in prom-client's global
 * registry (`@willsoto/nestjs-prometheus`'s), once per process, as `/metrics` shows them.
 */
async function collect(): Promise<MetricJson[][]> {
  const registries = [...members.keys()];
  const own = (await Promise.all(registries.map((r) => r.getMetricsAsJSON()))) as unknown as MetricJson[][];
  if (registries.includes(globalRegistry)) return own;
  const taken = new Set(own.flat().map((m) => m.name));
  const foreign = ((await globalRegistry.getMetricsAsJSON()) as unknown as MetricJson[]).filter((m) => !taken.has(m.name));
  return foreign.length > 0 ? [...own, foreign] : own;
}

function answer(message: unknown): void {
  if (!isCollectRequest(message)) return;
  const reply = (response: CollectResponse): void => {
    // The channel may be closing (the primary is going away): nothing to answer to then.
    if (process.connected && process.send) process.send(response, undefined, undefined, () => undefined);
  };
  collect().then(
    (metrics) => reply({ type: COLLECT_RESPONSE, id: message.id, metrics }),
    (error: unknown) => reply({ type: COLLECT_RESPONSE, id: message.id, error: errorText(error) }),
  );
}

function join(registry: Registry): void {
  members.set(registry, (members.get(registry) ?? 0) + 1);
  if (listener) return;
  listener = answer;
  process.on('message', listener);
}

function leave(registry: Registry): void {
  const count = (members.get(registry) ?? 1) - 1;
  if (count > 0) members.set(registry, count);
  else members.delete(registry);
  if (members.size > 0 || !listener) return;
  // A 'message' listener keeps the IPC channel (and so the worker) alive: gone with the last app.
  process.off('message', listener);
  listener = undefined;
}

/**
 * In a Node `cluster` worker (option `cluster`, on by default), answers the primary's
 * `ClusterMetricsAggregator` with this application's metrics, from the moment the application has
 * started until it closes. Does nothing in a process that is not a cluster worker.
 */
@Injectable()
export class ClusterWorkerMetrics implements OnApplicationBootstrap, OnModuleDestroy {
  private joined = false;

  constructor(private readonly metrics: VezaMetricsRegistry) {}

  onApplicationBootstrap(): void {
    if (!this.metrics.options.cluster || !cluster.isWorker || this.joined) return;
    join(this.metrics.registry);
    this.joined = true;
  }

  onModuleDestroy(): void {
    if (!this.joined) return;
    leave(this.metrics.registry);
    this.joined = false;
  }
}
