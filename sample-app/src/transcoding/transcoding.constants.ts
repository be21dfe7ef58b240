/** The BullMQ queue the uploads endpoint feeds, and the name of its jobs (`queue`, `job` labels of `veza_queue_*`). */
export const TRANSCODE_QUEUE = 'uploads';
export const TRANSCODE_JOB = 'transcode';

/** An upload whose filename starts with this cannot be decoded: its job fails, so failures show on /metrics. */
export const UNDECODABLE_PREFIX = 'corrupt';

/** How long the simulated transcoding takes, in milliseconds. */
export const TRANSCODE_MS = 20;

/** The data of a `transcode` job: what the worker needs, never the file itself. */
export interface TranscodeJobData {
  readonly uploadId: string;
  readonly filename: string;
  readonly mimeType: string;
  readonly sizeBytes: number;
}
