import { Processor, WorkerHost } from '@nestjs/bullmq';
import { Logger } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  TRANSCODE_MS,
  TRANSCODE_QUEUE,
  UNDECODABLE_PREFIX,
  type TranscodeJobData,
} from './transcoding.constants';

/**
 * The worker: "transcodes" an audio upload to Opus (a short simulated step). An upload named
 * `corrupt…` cannot be decoded: the job fails for good (no retry), like a real decoder error.
 * No metrics code: the library counts and times every attempt of a `@Processor`.
 */
@Processor(TRANSCODE_QUEUE)
export class TranscodeProcessor extends WorkerHost {
  private readonly logger = new Logger(TranscodeProcessor.name);

  async process(job: Job<TranscodeJobData>): Promise<{ uploadId: string; format: string }> {
    await sleep(TRANSCODE_MS);
    if (job.data.filename.startsWith(UNDECODABLE_PREFIX)) {
      this.logger.warn(`Upload ${job.data.uploadId} (${job.data.filename}) cannot be decoded`);
      throw new UnrecoverableError(`cannot decode ${job.data.filename}`);
    }
    return { uploadId: job.data.uploadId, format: 'opus' };
  }
}
