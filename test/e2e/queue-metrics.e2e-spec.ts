/**
 * Issue 15, queues: every job attempt of a @nestjs/bullmq processor counts once in
 * veza_queue_jobs_total{queue, job, outcome} (completed, retried, failed) and is timed once in
 * veza_queue_job_duration_seconds{queue, job}; veza_queue_jobs{queue, state} is read from Redis at
 * scrape time. A real redis-server, started by the spec; the app on Express and on Fastify.
 */
import { Module, type INestApplication } from '@nestjs/common';
import { BullModule, getQueueToken, Processor, WorkerHost } from '@nestjs/bullmq';
import type { Job, Queue } from 'bullmq';
import { VezaMetricsModule } from '../../src';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { startRedis, type Broker } from '../utils/brokers';
import { samples } from './http-client.fixture';

jest.setTimeout(120_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

@Processor('transcode')
class TranscodeProcessor extends WorkerHost {
  process(job: Job): Promise<{ format: string }> {
    if (job.name === 'fail-once' && job.attemptsMade === 0) return Promise.reject(new Error('codec busy'));
    if (job.name === 'broken') return Promise.reject(new Error('broken upload'));
    return Promise.resolve({ format: 'opus' });
  }
}

function queueModule(redis: Broker, queues: boolean, collectTimeoutMs?: number): new () => unknown {
  @Module({
    imports: [
      VezaMetricsModule.forRoot({
        defaultMetrics: false,
        queues,
        ...(collectTimeoutMs ? { scrape: { collectTimeoutMs } } : {}),
      }),
      BullModule.forRoot({ connection: { host: '127.0.0.1', port: redis.port } }),
      BullModule.registerQueue({ name: 'transcode' }),
    ],
    providers: [TranscodeProcessor],
  })
  class QueueModule {}
  return QueueModule;
}

/** Adds the known set and waits until every attempt was recorded (or, without recording, handled). */
async function runKnownSet(app: INestApplication, url: string, recorded: boolean): Promise<Queue> {
  const queue = app.get<Queue>(getQueueToken('transcode'));
  // One redis-server serves both adapters' runs: each starts from an empty queue.
  await queue.obliterate({ force: true });
  await queue.add('mp3', { id: 1 });
  await queue.add('mp3', { id: 2 });
  await queue.add('fail-once', { id: 3 }, { attempts: 2 });
  await queue.add('broken', { id: 4 });
  await queue.add('broken', { id: 5 }, { attempts: 2 });
  await queue.add('later', { id: 6 }, { delay: 3_600_000 });
  for (let i = 0; i < 600; i++) {
    const counts = await queue.getJobCounts('completed', 'failed');
    if (counts.completed === 3 && counts.failed === 2) break;
    await sleep(50);
  }
  for (let i = 0; recorded && i < 600; i++) {
    const total = Object.values(samples(await scrape(url), 'veza_queue_jobs_total', ['outcome'])).reduce(
      (a, b) => a + b,
      0,
    );
    if (total >= 7) break;
    await sleep(50);
  }
  return queue;
}

describe.each(ADAPTERS)('@nestjs/bullmq processors on %s', (adapter) => {
  let redis: Broker | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('counts and times each job attempt once, and reads the depth of the queue at scrape time', async () => {
    if (!redis) return;
    const { app, url } = await startApp(adapter, { imports: [queueModule(redis, true)] });
    try {
      await runKnownSet(app, url, true);
      const text = await scrape(url);
      expect(samples(text, 'veza_queue_jobs_total', ['queue', 'job', 'outcome'])).toEqual({
        'transcode mp3 completed': 2,
        'transcode fail-once retried': 1,
        'transcode fail-once completed': 1,
        'transcode broken failed': 2,
        'transcode broken retried': 1,
      });
      expect(samples(text, 'veza_queue_job_duration_seconds_count', ['queue', 'job'])).toEqual({
        'transcode mp3': 2,
        'transcode fail-once': 2,
        'transcode broken': 3,
      });
      expect(samples(text, 'veza_queue_jobs', ['queue', 'state'])).toEqual({
        'transcode waiting': 0,
        'transcode active': 0,
        'transcode delayed': 1,
        'transcode failed': 2,
      });
    } finally {
      await app.close();
    }
  });

  it('leaves the depth out of a scrape when Redis does not answer within scrape.collectTimeoutMs, and the rest is served', async () => {
    if (!redis?.signal) return;
    const { app, url } = await startApp(adapter, { imports: [queueModule(redis, true, 300)] });
    try {
      await runKnownSet(app, url, true);
      redis.signal('SIGSTOP');
      let text: string;
      try {
        text = await scrape(url);
      } finally {
        redis.signal('SIGCONT');
      }
      expect(samples(text, 'veza_queue_jobs', ['queue', 'state'])).toEqual({});
      expect(samples(text, 'veza_queue_jobs_total', ['job', 'outcome'])['mp3 completed']).toBe(2);
      // Redis back: the next scrape has the depth again, and the timeout counted once.
      const next = await scrape(url);
      expect(samples(next, 'veza_queue_jobs', ['queue', 'state'])['transcode delayed']).toBe(1);
      expect(samples(next, 'veza_metrics_collect_failures_total', ['metric', 'reason'])).toEqual({
        'veza_queue_jobs timeout': 1,
      });
    } finally {
      await app.close();
    }
  });

  it('with queues: false, records nothing and the jobs run the same', async () => {
    if (!redis) return;
    const { app, url } = await startApp(adapter, { imports: [queueModule(redis, false)] });
    try {
      const queue = await runKnownSet(app, url, false);
      expect(await queue.getJobCounts('completed', 'failed')).toEqual({ completed: 3, failed: 2 });
      expect(await scrape(url)).not.toContain('veza_queue_');
    } finally {
      await app.close();
    }
  });
});
