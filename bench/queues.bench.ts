/**
 * `npm run bench:queues`: the CPU the queue recorder adds to one job attempt of a `@nestjs/bullmq`
 * processor, against the same application with `queues: false` (issue 15: target under 1 µs).
 *
 * Needs a broker: a real redis-server is started on a free port (as the queue e2e specs do,
 * test/utils/brokers.ts), because @nestjs/bullmq builds the processor's Worker and the Queue
 * provider with a connection. So this bench is not in `npm run bench`.
 *
 * Two applications of one processor are initialised in this process, one recorded and one bare;
 * their Workers never fetch a job (`autorun: false`). Each attempt is what a Worker does around
 * the processor, in process: it emits `active(job)`, awaits the processor's `process(job)`, then
 * emits `completed(job, result)` or `failed(job, error)` (after setting `finishedOn` when no attempt
 * is left, bullmq's Q3 in src/compat/nest-bullmq.ts), on a fresh bullmq `Job` object. Redis round
 * trips cost the same with or without the recorder and are left out, so the difference is the
 * recorder's alone. Rounds alternate bare and recorded (BENCH_ROUNDS, 21; each BENCH_JOBS, 10,000
 * attempts); the median of the paired differences of process CPU time per attempt is the cost
 * added. Last, the recorder's counts are checked against the attempts made.
 */
import { Module } from '@nestjs/common';
import { BullModule, getQueueToken, Processor, WorkerHost } from '@nestjs/bullmq';
import { NestFactory } from '@nestjs/core';
import { Job, type Queue } from 'bullmq';
import { VezaMetricsModule, VezaMetricsRegistry } from '../src';
import { startRedis } from '../test/utils/brokers';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const JOBS = Number(process.env.BENCH_JOBS ?? 10_000);
const TARGET_NS = 1000;
const QUEUE = 'transcode';

const FAILURE = new Error('codec busy');

@Processor(QUEUE, { autorun: false })
class TranscodeProcessor extends WorkerHost {
  process(job: Job): Promise<{ format: string }> {
    if (job.name === 'mp3') return Promise.resolve({ format: 'opus' });
    return Promise.reject(FAILURE);
  }
}

type Outcome = 'completed' | 'retried' | 'failed';

interface Side {
  /** One attempt as the Worker runs it, on a new Job object. */
  attempt(name: string, outcome: Outcome): Promise<void>;
  registry: VezaMetricsRegistry;
  close(): Promise<void>;
}

async function side(redisPort: number, queues: boolean): Promise<Side> {
  @Module({
    imports: [
      VezaMetricsModule.forRoot({ defaultMetrics: false, queues }),
      BullModule.forRoot({ connection: { host: '127.0.0.1', port: redisPort } }),
      BullModule.registerQueue({ name: QUEUE }),
    ],
    providers: [TranscodeProcessor],
  })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  await app.init();
  const host = app.get(TranscodeProcessor);
  const worker = host.worker;
  const queue = app.get<Queue>(getQueueToken(QUEUE));
  return {
    registry: app.get(VezaMetricsRegistry),
    close: () => app.close(),
    attempt: async (name, outcome) => {
      const job = new Job(queue, name, { id: 1 });
      worker.emit('active', job, 'waiting');
      try {
        const result = await host.process(job);
        worker.emit('completed', job, result, 'active');
      } catch (error) {
        if (outcome === 'failed') job.finishedOn = Date.now();
        worker.emit('failed', job, error as Error, 'active');
      }
    },
  };
}

/** One round: `JOBS` attempts; process CPU ns per attempt. */
async function round(s: Side, name: string, outcome: Outcome): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < JOBS; i++) await s.attempt(name, outcome);
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / JOBS;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  process.env.CI ??= 'true'; // a missing redis-server fails the bench rather than skipping it
  const redis = await startRedis();
  if (!redis) throw new Error('redis-server is required');
  const bare = await side(redis.port, false);
  const recorded = await side(redis.port, true);
  try {
    const cases = [
      ['completed', 'mp3', 'completed'],
      ['failed, will be retried', 'flac', 'retried'],
      ['failed, no attempt left', 'wav', 'failed'],
    ] as const;
    let met = true;
    for (const [label, name, outcome] of cases) {
      const b: number[] = [];
      const r: number[] = [];
      await round(bare, name, outcome);
      await round(recorded, name, outcome);
      for (let i = 0; i < ROUNDS; i++) {
        b.push(await round(bare, name, outcome));
        r.push(await round(recorded, name, outcome));
      }
      // Rounds alternate, so each recorded round is compared with the bare round just before it.
      const added = median(r.map((x, i) => x - b[i]));
      const ok = added < TARGET_NS;
      met &&= ok;
      console.log(
        `${label.padEnd(24)} bare ${median(b).toFixed(0).padStart(6)} ns  recorded ${median(r).toFixed(0).padStart(6)} ns  ` +
          `added ${added.toFixed(0).padStart(5)} ns  target < ${TARGET_NS} ns: ${ok ? 'met' : 'not met'}`,
      );
    }
    const text = await recorded.registry.render();
    const sum = (prefix: string): number =>
      text
        .split('\n')
        .filter((l) => l.startsWith(prefix))
        .reduce((total, l) => total + Number(l.split(' ').pop()), 0);
    const expected = 3 * (ROUNDS + 1) * JOBS;
    const counted = sum('veza_queue_jobs_total{');
    const timed = sum('veza_queue_job_duration_seconds_count{');
    const exact = counted === expected && timed === expected;
    console.log(
      `attempts counted by the recorder: ${counted}, timed: ${timed}, of ${expected} (${exact ? 'exact' : 'NOT exact'})`,
    );
    console.log(`CPU added per job attempt: ${met ? 'met' : 'not met'}`);
    if (!exact) process.exitCode = 1;
  } finally {
    await bare.close();
    await recorded.close();
    await redis.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
