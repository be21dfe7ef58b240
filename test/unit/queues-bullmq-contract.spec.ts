/**
 * Contract tests of src/compat/nest-bullmq.ts: each assumption it makes of @nestjs/bullmq and
 * bullmq, by its name, against the installed versions, on a real redis-server. A failure here names
 * the assumption that broke.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { BullModule, getQueueToken, Processor, WorkerHost } from '@nestjs/bullmq';
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import { finalFailure, loadBullmq, queueOf, workerOf, type JobLike } from '../../src/compat/nest-bullmq';
import { startRedis, type Broker } from '../utils/brokers';

jest.setTimeout(60_000);

function versionOf(pkg: string): string {
  let dir = dirname(require.resolve(pkg));
  for (;;) {
    try {
      const json = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name?: string;
        version: string;
      };
      if (json.name === pkg) return json.version;
    } catch {
      // not the package's root yet
    }
    dir = dirname(dir);
  }
}
const against = `@nestjs/bullmq ${versionOf('@nestjs/bullmq')}, bullmq ${versionOf('bullmq')}`;

@Processor('contract')
class ContractProcessor extends WorkerHost {
  process(job: Job): Promise<string> {
    if (job.name === 'retry') return Promise.reject(new Error('again'));
    if (job.name === 'unrecoverable') return Promise.reject(new UnrecoverableError('never'));
    return Promise.resolve('done');
  }
}

describe(`@nestjs/bullmq and bullmq assumptions (${against})`, () => {
  let redis: Broker | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it(`Q1-Q4: the processor's worker, its events per attempt with one job object, finishedOn after the last attempt, the queue provider (${against})`, async () => {
    if (!redis) return;
    @Module({
      imports: [
        BullModule.forRoot({ connection: { host: '127.0.0.1', port: redis.port } }),
        BullModule.registerQueue({ name: 'contract' }),
      ],
      providers: [ContractProcessor],
    })
    class ContractModule {}
    const app = await NestFactory.createApplicationContext(ContractModule, { logger: false });
    try {
      const lib = loadBullmq();
      expect(lib).not.toBeNull();
      const processor = app.get(ContractProcessor);
      const worker = workerOf(processor, lib!);
      expect(worker?.name).toBe('contract');
      const queue = queueOf(app.get<Queue>(getQueueToken('contract')), lib!);
      expect(queue?.name).toBe('contract');

      const seen: string[] = [];
      const active = new Set<unknown>();
      const finals: Record<string, boolean[]> = {};
      worker!.on('active', (job: unknown) => {
        active.add(job);
        seen.push(`active ${(job as Job).name}`);
      });
      const outcome = (event: string) => (job: unknown) => {
        seen.push(`${event} ${(job as Job).name} same=${active.has(job)}`);
        if (event === 'failed') (finals[(job as Job).name] ??= []).push(finalFailure(job as JobLike));
      };
      worker!.on('completed', outcome('completed'));
      worker!.on('failed', outcome('failed'));
      await queue!.getJobCounts('waiting');
      const q = app.get<Queue>(getQueueToken('contract'));
      await q.add('ok', {});
      await q.add('retry', {}, { attempts: 2 });
      await q.add('unrecoverable', {}, { attempts: 3 });
      for (let i = 0; i < 400 && seen.filter((s) => !s.startsWith('active')).length < 4; i++)
        await new Promise((r) => setTimeout(r, 50));
      expect(seen.filter((s) => s.startsWith('active'))).toHaveLength(4);
      expect(seen.filter((s) => !s.startsWith('active')).sort()).toEqual([
        'completed ok same=true',
        'failed retry same=true',
        'failed retry same=true',
        'failed unrecoverable same=true',
      ]);
      expect(finals).toEqual({ retry: [false, true], unrecoverable: [true] });
      expect(await queue!.getJobCounts('waiting', 'active', 'delayed', 'failed')).toEqual({
        waiting: 0,
        active: 0,
        delayed: 0,
        failed: 2,
      });
    } finally {
      await app.close();
    }
  });
});
