import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Logger, Optional } from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Upload } from '../uploads/upload.entity';
import { TRANSCODE_JOB, TRANSCODE_QUEUE, type TranscodeJobData } from './transcoding.constants';

/** At most this many `add` calls wait on Redis at once; past it, uploads are not queued (logged). */
const MAX_PENDING_ADDS = 100;

/**
 * Puts a `transcode` job on the queue for each stored audio upload. The queue exists only when the
 * app was started with Redis (`AppModule.forRoot({ redisUrl })`); without it uploads are stored and
 * not transcoded. The upload never waits on Redis and never fails because of it: the job is added in
 * the background, and an error is logged.
 */
@Injectable()
export class TranscodeJobs {
  private readonly logger = new Logger(TranscodeJobs.name);
  private pending = 0;

  constructor(@Optional() @InjectQueue(TRANSCODE_QUEUE) private readonly queue?: Queue<TranscodeJobData>) {}

  /** Whether jobs are queued at all (Redis configured). */
  get enabled(): boolean {
    return this.queue !== undefined;
  }

  enqueue(upload: Upload): void {
    if (!this.queue || upload.type !== 'audio') return;
    if (this.pending >= MAX_PENDING_ADDS) {
      this.logger.warn(`Redis is not answering: upload ${upload.id} is not queued for transcoding`);
      return;
    }
    this.pending += 1;
    const data: TranscodeJobData = {
      uploadId: upload.id,
      filename: upload.filename,
      mimeType: upload.mimeType,
      sizeBytes: upload.sizeBytes,
    };
    this.queue
      .add(TRANSCODE_JOB, data, { removeOnComplete: 1000, removeOnFail: 1000 })
      .catch((error: unknown) =>
        this.logger.warn(`Upload ${upload.id} not queued for transcoding: ${String(error)}`),
      )
      .finally(() => (this.pending -= 1));
  }
}
