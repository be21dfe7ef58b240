import { Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { hasStaticTree } from '../compat/nest-core';
import {
  finalFailure,
  loadBullmq,
  queueOf,
  workerOf,
  type JobLike,
  type QueueLike,
  type WorkerLike,
} from '../compat/nest-bullmq';
import { collectFailuresCounter } from '../exposition/collect-failures';
import { CounterCell, HistogramCell } from '../http/metric-cells';
import { CellCache, type CellCacheBound } from '../instrumentation/labels';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import { SelfMetrics } from '../registry/self-metrics';
import type { ResolvedQueueOptions } from './queue-options';
import { libraryMetric, type LibraryCounter, type LibraryHistogram } from '../rpc/library-metric';
import { gaugeSourceFailed, recordingFailed } from '../veza-metrics.messages';
import { QUEUE_STATES, QueueMetric, type QueueJobOutcome } from './queue-labels';

/** Bounds of the job duration histogram: jobs run from milliseconds to minutes. */
const JOB_BUCKETS = [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300];

/**
 * @internal What one worker's cache of cells by job name keeps: 10,000 names and 131,072 UTF-16
 * units of names, each cut to 256 units first (512 names at the cut). Short names, as processors
 * usually have, fill the 10,000 before the units.
 */
export const JOB_NAME_CACHE: CellCacheBound = { entries: 10_000, units: 131_072 };

/**
 * @internal The heap one cached job name takes besides its name: its `Map` entry, its four cells and
 * their label objects (measured about 560 B: bench/memory-queues.bench.ts).
 */
export const QUEUE_CACHE_ENTRY_BYTES = 640;

/**
 * @internal The stated bound of one worker's cache in the heap (6.6 MiB): every entry, and every
 * unit of its names twice (the key and the cut name in the cells' labels), two bytes each at worst.
 * The client's series are not in it: the series cap bounds them.
 */
export const QUEUE_CACHE_BOUND_BYTES =
  JOB_NAME_CACHE.entries * QUEUE_CACHE_ENTRY_BYTES + JOB_NAME_CACHE.units * 4;

interface GaugeLike {
  set(labels: Record<string, string>, value: number): void;
  remove(labels: Record<string, string>): void;
  collect?: () => unknown;
}

type Outcome = QueueJobOutcome;

/**
 * Records the jobs of every `@Processor()` of `@nestjs/bullmq` in this application, with no code in
 * the processors, through each Worker's own events (src/compat/nest-bullmq.ts): per attempt, one
 * count in `veza_queue_jobs_total{queue, job, outcome}` (`completed`; `retried` for a failed
 * attempt that will run again; `failed` for the last one) and one observation in
 * `veza_queue_job_duration_seconds{queue, job}` from the Worker's `active` to its outcome. The
 * queues registered with `BullModule.registerQueue()` report their depth by state in
 * `veza_queue_jobs{queue, state}`, read at scrape time under the scrape's collect timeout. `job`
 * is the job's name: producers choose it (from user input at times), so it is under the series cap,
 * and cut to 256 units before anything keeps it.
 */
@Injectable()
export class QueueMetricsRecorder implements OnApplicationBootstrap {
  private readonly logger = new Logger('VezaMetrics');
  private readonly started = new WeakMap<object, number>();
  private failed = false;

  constructor(
    private readonly modules: ModulesContainer,
    private readonly app: AppRegistry,
    private readonly self: SelfMetrics,
    @InjectVezaMetricsOptions() private readonly options: ResolvedOptions<{ queues: ResolvedQueueOptions }>,
  ) {}

  onApplicationBootstrap(): void {
    if (!this.options.queues.enabled) return;
    const lib = loadBullmq(this.modules);
    if (!lib) return;
    try {
      const workers = new Set<WorkerLike>();
      const found = new Map<string, QueueLike>();
      for (const module of this.modules.values()) {
        for (const wrapper of module.providers.values()) {
          if (!hasStaticTree(wrapper)) continue;
          const instance: unknown = wrapper.instance;
          const worker = workerOf(instance, lib);
          if (worker) workers.add(worker);
          const queue = queueOf(instance, lib);
          if (queue && !found.has(queue.name)) found.set(queue.name, queue);
        }
      }
      if (workers.size > 0) this.recordJobs([...workers]);
      if (found.size > 0) this.readDepths([...found.values()]);
    } catch (error) {
      this.fail(error);
    }
  }

  private recordJobs(workers: WorkerLike[]): void {
    const jobs = libraryMetric<LibraryCounter>(this.app, this.self, {
      name: QueueMetric.Jobs,
      kind: 'counter',
      help: 'Job attempts of @nestjs/bullmq processors: completed, retried (failed, will run again) or failed (no attempt left)',
      labelNames: ['queue', 'job', 'outcome'],
    });
    const duration = libraryMetric<LibraryHistogram>(this.app, this.self, {
      name: QueueMetric.JobDuration,
      kind: 'histogram',
      help: 'Time of a job attempt, from the worker taking it to its outcome, in seconds',
      labelNames: ['queue', 'job'],
      buckets: JOB_BUCKETS,
    });
    type JobCells = { outcomes: Record<Outcome, CounterCell<string>>; duration: HistogramCell<string> };
    /**
     * The cells of one worker's jobs by job name, so that an attempt builds no key (a
     * `${queue}\0${name}` string was about a third of the recorder's own time per attempt in
     * bench:queues' profile). Producers choose the name, from user input at times: it is cut to 256
     * units (in memory of its own) before the cache or a cell keeps it, the cache is keyed by that
     * cut, and bounded by {@link JOB_NAME_CACHE}; past it, cells are built per attempt and the series
     * guard folds the series past the cap.
     */
    const cellsFor = (queue: string): CellCache<JobCells> =>
      new CellCache<JobCells>(
        ['job'],
        ({ job }) => {
          const counter = (outcome: Outcome) => new CounterCell<string>(jobs, { queue, job, outcome });
          return {
            outcomes: {
              completed: counter('completed'),
              failed: counter('failed'),
              retried: counter('retried'),
            },
            duration: new HistogramCell<string>(duration, { queue, job }),
          };
        },
        undefined,
        undefined,
        JOB_NAME_CACHE,
      );
    for (const worker of workers) {
      const cellsOf = cellsFor(worker.name);
      worker.on('active', (job: unknown) => {
        if (typeof job === 'object' && job !== null) this.started.set(job, performance.now());
      });
      const done = (job: unknown, outcome: Outcome | undefined): void => {
        try {
          if (typeof job !== 'object' || job === null) return;
          const j = job as JobLike;
          const name = typeof j.name === 'string' ? j.name : '';
          const series = cellsOf.one(name);
          series.outcomes[outcome ?? (finalFailure(j) ? 'failed' : 'retried')].inc();
          const start = this.started.get(job);
          if (start !== undefined) {
            this.started.delete(job);
            series.duration.observe((performance.now() - start) / 1000);
          }
        } catch (error) {
          this.fail(error);
        }
      };
      worker.on('completed', (job: unknown) => done(job, 'completed'));
      worker.on('failed', (job: unknown) => done(job, undefined));
    }
  }

  private readDepths(queues: QueueLike[]): void {
    const gauge = libraryMetric<GaugeLike>(this.app, this.self, {
      name: QueueMetric.Depth,
      kind: 'gauge',
      help: 'Jobs of each queue by state (waiting, active, delayed, failed), read when Prometheus scrapes',
      labelNames: ['queue', 'state'],
    });
    const failures = collectFailuresCounter(this.self);
    const logged = new Set<string>();
    gauge.collect = () =>
      Promise.all(
        queues.map((queue) =>
          queue.getJobCounts(...QUEUE_STATES).then(
            (counts) => {
              for (const state of QUEUE_STATES)
                gauge.set({ queue: queue.name, state }, Number(counts[state] ?? 0));
            },
            (error: unknown) => {
              for (const state of QUEUE_STATES) gauge.remove({ queue: queue.name, state });
              failures.inc({ metric: QueueMetric.Depth, reason: 'error' });
              if (logged.has(queue.name)) return;
              logged.add(queue.name);
              this.logger.warn(gaugeSourceFailed(`queue "${queue.name}"`, QueueMetric.Depth, error));
            },
          ),
        ),
      ).then(() => undefined);
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the queue recorder', error));
  }
}
