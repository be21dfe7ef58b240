import { Logger } from '@nestjs/common';
import cluster, { type Worker } from 'node:cluster';
import {
  clusterNativeDropped,
  clusterRetiredDropped,
  clusterWorkerFailed,
  clusterWorkerTimedOut,
} from '../veza-metrics.messages';
import {
  appendMetric,
  MAX_REGISTRIES,
  retirable,
  withOmitted,
  type Answer,
  type Assembly,
} from './answer-assembly';
import type { ClusterAggregator, ResolvedClusterMetricsOptions } from './cluster-options';
import {
  COLLECT_REQUEST,
  isCollectPart,
  isCollectResponse,
  type CollectPart,
  type CollectRequest,
  type CollectResponse,
  type MetricJson,
} from './cluster-protocol';
import { MAX_RETIRED_SAMPLES, RetiredSeries } from './retired-series';

/** Request ids, shared by every collector of the process so that their requests never mix. */
let lastRequestId = 0;

/** What the primary keeps about a live worker: released when it exits. */
interface WorkerState {
  /** Its place among the live workers (the `worker` label): reused by the next worker. */
  readonly slot: number;
  last: Answer | undefined;
  /** The newest request this aggregator sent it: parts of a request never sent are not kept. */
  asked: number;
  /** The newest answer being received (an older one is dropped when a newer one starts). */
  assembling: Assembly | undefined;
  /** The newest answer dropped for its size: its further parts are ignored. */
  refused: number;
}

/** What a {@link WorkerCollector} reports, for the primary's self-metrics. */
export interface CollectorEvents {
  /** A scrape asks `count` workers. */
  asked(count: number): void;
  /** A worker did not answer within the wait (its last answer is used). */
  timedOut(): void;
  /** A worker answered with an error or could not be asked (its last answer is used). */
  failed(): void;
}

/** What one round of asking gives: the metrics to merge, and whether each slot's worker answered. */
export interface Collected {
  /** The live workers' newest answers, then the retained base of the exited ones. */
  readonly parts: MetricJson[][];
  /** By slot (the `worker` label less one): whether the worker in it answered this round. */
  readonly answered: boolean[];
}

/**
 * The primary's side of the cluster's IPC: asks every worker for its metrics, receives each answer
 * part by part (src/cluster/answer-assembly.ts), keeps each live worker's newest answer, and moves an
 * exited worker's counters and histograms into the retained base. What it keeps is bounded as
 * `ClusterMetricsAggregator` says.
 */
export class WorkerCollector {
  private readonly timeoutMs: number;
  private readonly aggregators: Readonly<Record<string, ClusterAggregator>>;
  private readonly maxWorkerSamples: number;
  private readonly logger = new Logger('VezaMetrics');
  /** By worker id; an entry per live worker, deleted at its exit. */
  private readonly live = new Map<number, WorkerState>();
  /** Slot → the id of the worker in it; as long as the most workers ever alive at once. */
  private readonly slots: (number | undefined)[] = [];
  /** By `request id:worker id`: at most one per worker per scrape in flight, settled by answer, timeout or exit. */
  private readonly pending = new Map<string, (answered: boolean) => void>();
  private readonly retired = new RetiredSeries(MAX_RETIRED_SAMPLES);
  /** Warnings already logged: three keys at most. */
  private readonly warned = new Set<string>();
  private closed = false;

  constructor(
    options: ResolvedClusterMetricsOptions,
    private readonly events: CollectorEvents,
  ) {
    this.timeoutMs = options.timeoutMs;
    this.aggregators = options.aggregators;
    this.maxWorkerSamples = options.maxWorkerSamples;
    cluster.on('message', this.onMessage);
    cluster.on('exit', this.onExit);
  }

  /** Samples of exited workers' counters and histograms kept in the sum. */
  get retiredSamples(): number {
    return this.retired.size;
  }

  /**
   * Asks every live worker for its metrics and gives what is to be merged. Waits for each worker at
   * most `timeoutMs`, and never past `deadline` (`performance.now()` milliseconds).
   */
  async collect(deadline?: number): Promise<Collected> {
    const id = ++lastRequestId;
    const workers = Object.values(cluster.workers ?? {}).filter(
      (w): w is Worker => w !== undefined && w.isConnected(),
    );
    const waitMs = Math.max(
      1,
      Math.min(this.timeoutMs, deadline === undefined ? Infinity : Math.floor(deadline - performance.now())),
    );
    this.events.asked(workers.length);
    const answered = new Set<number>();
    await Promise.all(
      workers.map(async (worker) => {
        if (await this.ask(worker, id, waitMs)) answered.add(worker.id);
      }),
    );
    // From here on, nothing awaits: a worker is either live (its newest answer counts) or exited
    // (its last answer is in the retained base), never both.
    const parts: MetricJson[][] = [];
    for (const state of this.live.values()) if (state.last) parts.push(...state.last.metrics);
    const retired = this.retired.toJson();
    if (retired.length > 0) parts.push(retired);
    return {
      parts,
      answered: this.slots.map((workerId) => workerId !== undefined && answered.has(workerId)),
    };
  }

  /** Stops listening to the cluster and forgets the workers. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    cluster.off('message', this.onMessage);
    cluster.off('exit', this.onExit);
    for (const resolve of this.pending.values()) resolve(false);
    this.pending.clear();
    this.live.clear();
  }

  /** Whether `worker` answered request `id` within `waitMs`. */
  private ask(worker: Worker, id: number, waitMs: number): Promise<boolean> {
    if (this.closed) return Promise.resolve(false);
    const state = this.stateOf(worker);
    state.asked = Math.max(state.asked, id);
    const key = `${id}:${worker.id}`;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(key)) return;
        this.events.timedOut();
        this.warnOnce(
          'timeout',
          clusterWorkerTimedOut(worker.id, state.slot + 1, worker.process.pid, waitMs),
        );
        resolve(false);
      }, waitMs);
      this.pending.set(key, (answered) => {
        clearTimeout(timer);
        this.pending.delete(key);
        resolve(answered);
      });
      const request: CollectRequest = { type: COLLECT_REQUEST, id, timeoutMs: waitMs };
      const failed = (error: Error): void => this.fail(worker, id, error.message);
      try {
        worker.send(request, undefined, (error: Error | null) => {
          if (error) failed(error);
        });
      } catch (error) {
        failed(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** The state of a live worker, made (in the lowest free slot) the first time it is asked. */
  private stateOf(worker: Worker): WorkerState {
    let state = this.live.get(worker.id);
    if (state) return state;
    let slot = this.slots.indexOf(undefined);
    if (slot === -1) slot = this.slots.length;
    this.slots[slot] = worker.id;
    state = { slot, last: undefined, asked: 0, assembling: undefined, refused: 0 };
    this.live.set(worker.id, state);
    return state;
  }

  private readonly onMessage = (worker: Worker, message: unknown): void => {
    if (isCollectPart(message)) this.onPart(worker, message);
    else if (isCollectResponse(message)) this.onEnd(worker, message);
  };

  /**
   * A part of a worker's answer, appended to the answer it belongs to. Kept only for a live worker,
   * for a request this aggregator sent it and newer than its last answer; at most one answer is
   * received per worker at a time (the newest), and at most `maxWorkerSamples` samples (and
   * `CHARS_PER_SAMPLE` characters each) of it: past that, it is dropped as a failure.
   */
  private onPart(worker: Worker, part: CollectPart): void {
    const state = this.live.get(worker.id);
    if (!state || part.id > state.asked || part.id <= (state.last?.id ?? 0) || part.id <= state.refused)
      return;
    let assembly = state.assembling;
    if (assembly && assembly.id > part.id) return;
    if (!assembly || assembly.id < part.id) {
      assembly = { id: part.id, registries: [], parts: 0, samples: 0, chars: 0 };
      state.assembling = assembly;
    }
    assembly.parts++;
    for (const metric of part.metrics as unknown[]) {
      const problem = appendMetric(assembly, metric, this.maxWorkerSamples);
      if (problem === undefined) continue;
      state.assembling = undefined;
      state.refused = part.id;
      this.fail(worker, part.id, problem);
      return;
    }
  }

  /** The end of a worker's answer: the parts received become its last answer, if all came. */
  private onEnd(worker: Worker, message: CollectResponse): void {
    const state = this.live.get(worker.id);
    const assembly = state?.assembling?.id === message.id ? state.assembling : undefined;
    if (state && assembly) state.assembling = undefined;
    if (state && message.id <= state.refused) return;
    if (message.error !== undefined) {
      this.fail(worker, message.id, String(message.error));
      return;
    }
    const registries = message.registries;
    if (
      typeof message.parts !== 'number' ||
      typeof registries !== 'number' ||
      !Number.isInteger(registries) ||
      registries < 0 ||
      registries > MAX_REGISTRIES
    ) {
      this.fail(worker, message.id, 'an answer without metrics');
      return;
    }
    // A worker not asked yet, or already exited (its last answer is retired): not kept.
    if (state && (!state.last || state.last.id < message.id)) {
      if ((assembly?.parts ?? 0) !== message.parts) {
        // Parts of it went to an older assembly, or were never received: not an answer to keep.
        this.fail(
          worker,
          message.id,
          `an answer of ${message.parts} parts, ${assembly?.parts ?? 0} received`,
        );
        return;
      }
      const metrics = Array.from({ length: registries }, (_, r) => [
        ...(assembly?.registries[r]?.values() ?? []),
      ]);
      state.last = {
        id: message.id,
        metrics: withOmitted(metrics, message.omitted, state.last),
      };
      // Its malformed native parts were dropped (those series are classic only): counted as an error.
      const dropped = assembly?.droppedNatives ?? 0;
      if (dropped > 0) {
        this.events.failed();
        this.warnOnce('native', clusterNativeDropped(worker.id, dropped));
      }
    }
    this.pending.get(`${message.id}:${worker.id}`)?.(state !== undefined);
  }

  private fail(worker: Worker, id: number, error: string): void {
    const resolve = this.pending.get(`${id}:${worker.id}`);
    if (!resolve) return;
    this.events.failed();
    this.warnOnce('error', clusterWorkerFailed(worker.id, error));
    resolve(false);
  }

  /**
   * An exited worker's counters and histograms (those summed across workers) move, as of its last
   * answer, into the retained base: without them the sum would go back, which Prometheus' `rate()`
   * takes for a reset. Its gauges go (a dead worker holds no sessions), and so does its state.
   */
  private readonly onExit = (worker: Worker): void => {
    // A scrape waiting for it goes on without it (its last answer is retired below).
    for (const [key, resolve] of this.pending) if (key.endsWith(`:${worker.id}`)) resolve(false);
    const state = this.live.get(worker.id);
    if (!state) return;
    this.live.delete(worker.id);
    this.slots[state.slot] = undefined;
    if (!state.last) return;
    const dropped = this.retired.add(retirable(state.last.metrics, this.aggregators));
    if (dropped > 0) this.warnOnce('retired', clusterRetiredDropped(worker.id, dropped, MAX_RETIRED_SAMPLES));
  };

  private warnOnce(key: string, message: string): void {
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.logger.warn(message);
  }
}
