/**
 * Issue #21, item 1: a producer that names jobs from user input. A real @nestjs/bullmq processor on
 * a real redis-server (started by the spec) takes jobs whose names are 100 KB each; the app is on
 * Express and on Fastify. The heap after GC grows by no more than the stated bound of what the queue
 * recorder keeps (its cache of cells by job name, with the cut names, plus the series the guard lets
 * the client keep), never by the names themselves: the name is cut to 256 UTF-16 units before
 * anything is kept, and the cache is keyed by that cut. Client-agnostic: it runs as it is under
 * VEZA_TEST_CLIENT=prometheus-io (Node 22+).
 */
import { Module, type INestApplication } from '@nestjs/common';
import { BullModule, getQueueToken, Processor, WorkerHost } from '@nestjs/bullmq';
import { Job, type Queue } from 'bullmq';
import { QueueMetric, VezaMetricsModule } from '../../src';
import {
  JOB_NAME_CACHE,
  QUEUE_CACHE_BOUND_BYTES,
  QUEUE_CACHE_ENTRY_BYTES,
} from '../../src/queues/queue-metrics.recorder';
import { MAX_LABEL_VALUE_LENGTH, sanitizeLabelValue } from '../../src/registry/series-guard';
import { ADAPTERS, scrape, startApp, type AdapterKind } from '../utils/app';
import { startRedis, type Broker } from '../utils/brokers';
import { sampleValue } from '../utils/exposition';
import { collector } from '../utils/memory';

jest.setTimeout(240_000);

const QUEUE = 'uploads';
const MAX_SERIES = 20;
const JOBS = 300;
/** The size of a name in the issue: 100 KB. */
const NAME_LENGTH = 100_000;
/** A series of either client with 256-unit label values, its key and its buckets: under 4 KiB (as bench/memory-decorators). */
const SERIES_BYTES = 4096;
/**
 * What the recorder keeps of one job name: its cache entry and cells, and the cut name twice (the
 * key and the cells' labels), two bytes a unit at worst. Kept whole, a name is NAME_LENGTH units.
 */
const PER_NAME = QUEUE_CACHE_ENTRY_BYTES + 2 * 2 * MAX_LABEL_VALUE_LENGTH;
/** The noise of one process running Nest, bullmq, ioredis and Jest. */
const NOISE = 4 * 2 ** 20;

/** A distinct 100 KB name: its first 256 units differ from every other's; some end the cut inside a surrogate pair. */
function distinctName(i: number): string {
  const head = `upload-${i}-`;
  const pair = i % 3 === 0 ? '\u{1F600}' : 'ab';
  return head + 'x'.repeat(MAX_LABEL_VALUE_LENGTH - 1 - head.length) + pair + 'y'.repeat(NAME_LENGTH - 257);
}

/** A 100 KB name whose first 256 units are the same for every `i`: they differ only past the cut. */
function sameCutName(i: number): string {
  return 'shared-'.padEnd(MAX_LABEL_VALUE_LENGTH + 10, 's') + `${i}-`.padEnd(NAME_LENGTH - 266, 'z');
}

@Processor(QUEUE)
class UploadProcessor extends WorkerHost {
  process(_job: Job): Promise<void> {
    return Promise.resolve();
  }
}

function floodModule(redis: Broker): new () => unknown {
  @Module({
    imports: [
      VezaMetricsModule.forRoot({ defaultMetrics: false, cardinality: { maxSeries: MAX_SERIES } }),
      BullModule.forRoot({ connection: { host: '127.0.0.1', port: redis.port } }),
      BullModule.registerQueue({ name: QUEUE }),
    ],
    providers: [UploadProcessor],
  })
  class FloodModule {}
  return FloodModule;
}

/**
 * Adds `count` jobs named `name(i)` one after another and resolves once the worker has settled all
 * of them (its `completed`/`failed` listeners run in order: the recorder's, attached at bootstrap,
 * first). Each name is built as its job is added, so the spec holds none of them.
 */
async function runJobs(app: INestApplication, count: number, name: (i: number) => string): Promise<void> {
  const worker = app.get(UploadProcessor).worker;
  const queue = app.get<Queue>(getQueueToken(QUEUE));
  const settled = new Promise<void>((resolve) => {
    let seen = 0;
    const one = (): void => {
      if (++seen < count) return;
      worker.off('completed', one);
      worker.off('failed', one);
      resolve();
    };
    worker.on('completed', one);
    worker.on('failed', one);
  });
  for (let i = 0; i < count; i++)
    await queue.add(name(i), null, { removeOnComplete: true, removeOnFail: true });
  await settled;
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

describe.each(ADAPTERS)(
  '@nestjs/bullmq job names of 100 KB on %s (issue #21, item 1)',
  (kind: AdapterKind) => {
    let redis: Broker | undefined;
    let app: INestApplication | undefined;
    let url: string;
    const gc = collector();
    const heap = (): number => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };

    beforeAll(async () => {
      redis = await startRedis();
      if (!redis) return;
      ({ app, url } = await startApp(kind, { imports: [floodModule(redis)] }));
      // Warm-up: what is built once (the families, bullmq's scripts, the scrape's buffers) is built before the baselines.
      await runJobs(app, 3, (i) => `warm-${i}`);
      await scrape(url);
    });
    afterAll(async () => {
      await app?.close();
      await redis?.stop();
    });

    it('keys what it keeps by the cut name: names alike in their first 256 units share one series and one entry', async () => {
      if (!app) return;
      const before = heap();
      await runJobs(app, JOBS, sameCutName);
      const grown = heap() - before;
      // One cut name and its two series, plus the noise. Keyed by the whole name, the cache kept each
      // of them (JOBS x NAME_LENGTH units, 28.6 MiB).
      const bound = PER_NAME + 2 * SERIES_BYTES + NOISE;
      process.stdout.write(
        `${kind}: ${JOBS} jobs with ${NAME_LENGTH}-unit names alike in their first ${MAX_LABEL_VALUE_LENGTH} units: heap +${mib(grown)} after GC (bound ${mib(bound)})\n`,
      );
      expect(grown).toBeLessThan(bound);

      const job = sanitizeLabelValue(sameCutName(0));
      expect(job).toBe(sanitizeLabelValue(sameCutName(JOBS - 1)));
      const text = await scrape(url);
      expect(sampleValue(text, QueueMetric.Jobs, { queue: QUEUE, job, outcome: 'completed' })).toBe(JOBS);
      expect(sampleValue(text, QueueMetric.JobDuration + '_count', { queue: QUEUE, job })).toBe(JOBS);
      expect(text).not.toContain('z'.repeat(10));
    });

    it('keeps the heap after GC within the bound of the recorder: distinct names are kept cut, never whole', async () => {
      if (!app) return;
      const before = heap();
      await runJobs(app, JOBS, distinctName);
      const grown = heap() - before;
      // What the recorder keeps of each name (within its cache's stated bound), plus the series the
      // guard lets the client keep (two families, MAX_SERIES each and the overflow series), plus the
      // noise. Kept whole, the names alone were JOBS x NAME_LENGTH units (28.6 to 57.2 MiB).
      const kept = Math.min(JOBS * PER_NAME, QUEUE_CACHE_BOUND_BYTES);
      const bound = kept + 2 * (MAX_SERIES + 1) * SERIES_BYTES + NOISE;
      process.stdout.write(
        `${kind}: ${JOBS} jobs with distinct ${NAME_LENGTH}-unit names: heap +${mib(grown)} after GC (bound ${mib(bound)}; the names: ${mib(JOBS * NAME_LENGTH)})\n`,
      );
      expect(grown).toBeLessThan(bound);

      const text = await scrape(url);
      // The first names land as the guard cuts them (the warm-up and the test above took four series),
      // the rest are folded into the overflow series, every attempt counted.
      for (let i = 0; i < MAX_SERIES - 4; i++) {
        const job = sanitizeLabelValue(distinctName(i));
        expect(job.length).toBeLessThanOrEqual(MAX_LABEL_VALUE_LENGTH);
        expect([i, sampleValue(text, QueueMetric.Jobs, { queue: QUEUE, job, outcome: 'completed' })]).toEqual(
          [i, 1],
        );
      }
      expect(
        sampleValue(text, QueueMetric.Jobs, {
          queue: '__overflow__',
          job: '__overflow__',
          outcome: '__overflow__',
        }),
      ).toBe(JOBS - (MAX_SERIES - 4));
      expect(text).not.toContain('x'.repeat(MAX_LABEL_VALUE_LENGTH + 1));
      expect(text).not.toContain('y'.repeat(10));
    });

    it('keeps no more names than its cache holds: past 131,072 units of cut names, a name is not kept', async () => {
      if (!app) return;
      // Many more names than the cache holds at the cut (512), each 2,000 units: attempts the real
      // Worker emits in process for fresh bullmq Jobs (Redis round trips would only slow the flood).
      const attempts = 16 * (JOB_NAME_CACHE.units / MAX_LABEL_VALUE_LENGTH);
      const worker = app.get(UploadProcessor).worker;
      const queue = app.get<Queue>(getQueueToken(QUEUE));
      const before = heap();
      for (let i = 0; i < attempts; i++) {
        const job = new Job(queue, `flood-${i}-`.padEnd(2000, 'w'), null);
        worker.emit('completed', job, undefined, 'active');
      }
      const grown = heap() - before;
      // The cache is full at 512 cut names (the warm-up and the tests above put 304 in it): at most that
      // many names kept, plus the overflow series, plus the noise. Kept until 10,000 entries, as
      // before the fix, each of these names was 2,000 units more (about 16 MiB).
      const bound = (JOB_NAME_CACHE.units / MAX_LABEL_VALUE_LENGTH) * PER_NAME + 2 * SERIES_BYTES + NOISE;
      process.stdout.write(
        `${kind}: ${attempts} attempts with distinct 2,000-unit names: heap +${mib(grown)} after GC (bound ${mib(bound)})\n`,
      );
      expect(grown).toBeLessThan(bound);
      // Every attempt counted, past the cap in the overflow series (after the test above's).
      const text = await scrape(url);
      expect(
        sampleValue(text, QueueMetric.Jobs, {
          queue: '__overflow__',
          job: '__overflow__',
          outcome: '__overflow__',
        }),
      ).toBe(JOBS - (MAX_SERIES - 4) + attempts);
    });
  },
);
