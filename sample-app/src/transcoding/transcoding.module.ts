import { BullModule } from '@nestjs/bullmq';
import { Global, Module, type DynamicModule } from '@nestjs/common';
import { TranscodeJobs } from './transcode-jobs.service';
import { TranscodeProcessor } from './transcode.processor';
import { TRANSCODE_QUEUE } from './transcoding.constants';

/** {@link TranscodeJobs} for the uploads: a no-op until {@link TranscodeQueueModule} provides the queue. */
@Module({ providers: [TranscodeJobs], exports: [TranscodeJobs] })
export class TranscodingModule {}

/** The `uploads` queue on the Redis at `redisUrl`, and the worker that transcodes its jobs. */
@Global()
@Module({})
export class TranscodeQueueModule {
  static forRoot(redisUrl: string): DynamicModule {
    const queue = BullModule.registerQueue({ name: TRANSCODE_QUEUE });
    return {
      module: TranscodeQueueModule,
      imports: [BullModule.forRoot({ connection: redisConnection(redisUrl) }), queue],
      providers: [TranscodeProcessor],
      exports: [queue],
    };
  }
}

/** `redis://[user:password@]host[:port][/db]` as ioredis options. */
export function redisConnection(redisUrl: string): {
  host: string;
  port: number;
  db?: number;
  username?: string;
  password?: string;
} {
  const url = new URL(redisUrl);
  const db = Number(url.pathname.slice(1));
  return {
    host: url.hostname || '127.0.0.1',
    port: Number(url.port || 6379),
    ...(url.pathname.length > 1 && Number.isInteger(db) ? { db } : {}),
    ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
    ...(url.password ? { password: decodeURIComponent(url.password) } : {}),
  };
}
