/*
 * The frames pm2's instances exchange over their local sockets and keep in their state files: one
 * JSON object per line, the messages of the cluster protocol (src/cluster/cluster-protocol.ts). A
 * request line goes one way; the answer's parts, then its end, come back. A state file holds one
 * whole answer, as it was sent.
 */
import { appendMetric, MAX_REGISTRIES, type Answer, type Assembly } from '../cluster/answer-assembly';
import {
  COLLECT_PART,
  COLLECT_RESPONSE,
  isCollectPart,
  isCollectResponse,
  type MetricJson,
} from '../cluster/cluster-protocol';

/** The version of the frames: an instance of another version is not asked (a rolling upgrade). */
export const PM2_PROTOCOL = 1;

/**
 * The longest line accepted: a part is about 128 KiB of characters (`MAX_PART_CHARS`), one sample's
 * labels may overshoot it, JSON escapes may double it.
 */
export const MAX_FRAME_BYTES = 4 * 1024 * 1024;

/** A request for an instance's answer. */
export interface Pm2Request {
  readonly type: 'veza-metrics:pm2-collect';
  readonly v: number;
  readonly id: number;
  /** How long the asker waits for the answer. */
  readonly timeoutMs: number;
}

export const PM2_REQUEST = 'veza-metrics:pm2-collect';

export function isPm2Request(frame: unknown): frame is Pm2Request {
  const f = frame as Partial<Pm2Request> | null;
  return (
    typeof f === 'object' &&
    f !== null &&
    f.type === PM2_REQUEST &&
    f.v === PM2_PROTOCOL &&
    typeof f.id === 'number' &&
    typeof f.timeoutMs === 'number'
  );
}

/**
 * Splits a byte stream into JSON frames, one per line, each at most {@link MAX_FRAME_BYTES}; an
 * error (a line too long, one that is not JSON) ends the stream's use.
 */
export class FrameSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** The frames completed by `chunk`, in order; throws on a line past the bound or not JSON. */
  push(chunk: Buffer): unknown[] {
    const frames: unknown[] = [];
    let start = 0;
    for (;;) {
      const end = chunk.indexOf(0x0a, start);
      if (end === -1) break;
      const piece = chunk.subarray(start, end);
      this.check(piece.length);
      const line = this.pending.length === 0 ? piece : Buffer.concat([...this.pending, piece]);
      this.pending = [];
      this.pendingBytes = 0;
      frames.push(JSON.parse(line.toString('utf8')));
      start = end + 1;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      this.check(rest.length);
      // A copy: the chunk's memory may be reused by the stream.
      this.pending.push(Buffer.from(rest));
      this.pendingBytes += rest.length;
    }
    return frames;
  }

  private check(bytes: number): void {
    if (this.pendingBytes + bytes > MAX_FRAME_BYTES)
      throw new Error(`a line of more than ${MAX_FRAME_BYTES} bytes`);
  }
}

/**
 * One answer read frame by frame (from a socket or a state file): its parts appended as they come,
 * within `maxWorkerSamples`, taken whole at its end.
 */
export class AnswerReader {
  private assembly: Assembly | undefined;
  /** Native parts dropped as malformed, in the answer read (its series kept classic only). */
  droppedNatives = 0;

  constructor(private readonly maxWorkerSamples: number) {}

  /** Takes one frame: the answer once complete, `undefined` while more are due; throws what is wrong. */
  frame(frame: unknown): Answer | undefined {
    if (isCollectPart(frame)) {
      if (this.assembly && this.assembly.id !== frame.id) throw new Error('parts of two answers mixed');
      const assembly = (this.assembly ??= { id: frame.id, registries: [], parts: 0, samples: 0, chars: 0 });
      assembly.parts++;
      for (const metric of frame.metrics as unknown[]) {
        const problem = appendMetric(assembly, metric, this.maxWorkerSamples);
        if (problem !== undefined) throw new Error(problem);
      }
      return undefined;
    }
    if (!isCollectResponse(frame)) throw new Error('a frame that is not part of an answer');
    if (frame.error !== undefined) throw new Error(String(frame.error));
    const received = this.assembly?.id === frame.id ? this.assembly.parts : 0;
    const { registries } = frame;
    if (
      typeof registries !== 'number' ||
      !Number.isInteger(registries) ||
      registries < 0 ||
      registries > MAX_REGISTRIES ||
      frame.parts !== received
    )
      throw new Error(`an answer of ${String(frame.parts)} parts, ${received} received`);
    const assembly = this.assembly;
    this.droppedNatives = assembly?.droppedNatives ?? 0;
    this.assembly = undefined;
    const metrics: MetricJson[][] = Array.from({ length: registries }, (_, r) => [
      ...(assembly?.registries[r]?.values() ?? []),
    ]);
    return { id: frame.id, metrics };
  }
}

/** One frame as a line. */
export const frameLine = (frame: unknown): string => `${JSON.stringify(frame)}\n`;

export { COLLECT_PART, COLLECT_RESPONSE };
