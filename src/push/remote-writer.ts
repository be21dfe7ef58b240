import {
  Injectable,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AnyMetric as Metric } from '../compat/client-types';
import { recycleChunks } from '../exposition/chunk-pool';
import { MetricsExposition } from '../exposition/metrics-exposition';
import { ProtoWriter } from '../exposition/protobuf-writer';
import { nextTurn } from '../exposition/render-exposition';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import { SelfMetrics } from '../registry/self-metrics';
import {
  errorText,
  remoteWriteFailed,
  remoteWriteRecovered,
  type RemoteWriteFailureReason,
} from '../veza-metrics.messages';
import { ownRequest } from '../outbound/outbound-hub';
import {
  describeNetworkError,
  MAX_DETAIL,
  PeriodicSend,
  SendFailure,
  withShutdownSnapshot,
} from './periodic-send';
import { encodeWriteRequest } from './remote-write-encoder';
import type { ResolvedRemoteWriteOptions } from './remote-write-options';
import { snappyCompressParts } from './snappy';

/** The self-metric counting failed (and skipped) remote-write sends, by `reason`. */
export const REMOTE_WRITE_FAILURES_METRIC = 'veza_metrics_remote_write_failures_total';
const REMOTE_WRITE_FAILURES_HELP =
  'Remote-write sends that failed or were skipped, by reason (unreachable, timeout, rejected, unavailable, render, skipped)';

/** Work between two yields to the event loop while encoding and compressing. */
const SLICE_MS = 5;
const USER_AGENT = 'veza-nestjs-metrics (remote write 1.0)';

class SendError extends SendFailure<RemoteWriteFailureReason> {}

/**
 * Sends the application's samples to a remote-write receiver (option `remoteWrite`): every
 * `intervalMs` while the application runs, and once more when it closes (after the HTTP server has
 * closed, as the Pushgateway's final push). Remote write 1.0: a snappy-compressed protobuf
 * `WriteRequest` of every series of the exposition `/metrics` serves, one sample each at the send's
 * time (docs/operations.md, "Remote write").
 *
 * Never harms the application: one send at a time (an interval that comes while one is on its way is
 * skipped and counted), nothing queued, no retry (the next interval sends the then-current values),
 * each send bounded by `timeoutMs`, the encoding sliced like a scrape's render, an answer's body never
 * read beyond 300 bytes, redirects not followed. A failure is logged once per kind (until a send
 * succeeds again) and counted in `veza_metrics_remote_write_failures_total{reason}`.
 */
@Injectable()
export class RemoteWriter
  implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly options: ResolvedRemoteWriteOptions | undefined;
  /** The timer, the final send and the failure log (periodic-send.ts, shared with the Pushgateway push). */
  private readonly lifecycle: PeriodicSend<RemoteWriteFailureReason>;
  /** The send on its way, if any: there is never more than one. */
  private inFlight: Promise<boolean> | undefined;
  /** The timestamp of the last send: the next one's is later (a receiver refuses a second sample at the same time). */
  private lastTimestampMs = 0;

  /** @internal Nest's injector builds it; the module provides it. */
  constructor(
    private readonly app: AppRegistry,
    private readonly exposition: MetricsExposition,
    self: SelfMetrics,
    @InjectVezaMetricsOptions()
    private readonly moduleOptions: ResolvedOptions<{ remoteWrite: ResolvedRemoteWriteOptions | undefined }>,
  ) {
    const options = (this.options = moduleOptions.remoteWrite);
    this.lifecycle = new PeriodicSend(
      app,
      options && {
        intervalMs: options.intervalMs,
        finalSend: options.sendOnShutdown,
        target: options.target,
        failed: remoteWriteFailed,
        recovered: remoteWriteRecovered,
        // Nothing queued: an interval that comes while a send is on its way is skipped, and counted.
        tick: () => {
          if (this.inFlight) this.lifecycle.count('skipped');
          else void this.start([]);
        },
        send: (snapshot) => this.send(snapshot),
        settled: async () => this.inFlight,
      },
      options && self.counter(REMOTE_WRITE_FAILURES_METRIC, REMOTE_WRITE_FAILURES_HELP, ['reason']),
    );
  }

  /** Nest's start-up hook: starts the periodic send. */
  onApplicationBootstrap(): void {
    this.lifecycle.start();
  }

  /** Stops the periodic send and notes the registry's metrics (Nest clears the registry after). */
  onModuleDestroy(): void {
    this.lifecycle.stop();
  }

  /** As the Pushgateway's: the final send waits for the HTTP server to close, at most `FINAL_PUSH_WAIT_MS`. */
  beforeApplicationShutdown(): void {
    this.lifecycle.beforeShutdown();
  }

  /** The final send, once the HTTP server is closed: a send on its way ends first (within `timeoutMs`). */
  onApplicationShutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  /**
   * Sends now, after the send on its way if there is one. Resolves `true` when the receiver accepted
   * the samples, `false` otherwise; never rejects. Resolves `false` at once without a `remoteWrite` option.
   */
  async send(snapshot: readonly Metric[] = []): Promise<boolean> {
    if (!this.options) return false;
    // Several callers waiting for the same send start one after the other, never two at once.
    while (this.inFlight) await this.inFlight;
    return this.start(snapshot);
  }

  private start(snapshot: readonly Metric[]): Promise<boolean> {
    const run = this.sendOnce(this.options as ResolvedRemoteWriteOptions, snapshot);
    const tracked = run.finally(() => {
      if (this.inFlight === tracked) this.inFlight = undefined;
    });
    this.inFlight = tracked;
    return tracked;
  }

  private async sendOnce(options: ResolvedRemoteWriteOptions, snapshot: readonly Metric[]): Promise<boolean> {
    try {
      let body: Buffer[];
      try {
        body = await this.encode(snapshot);
      } catch (error) {
        throw new SendError('render', errorText(error));
      }
      await post(options, body);
      this.lifecycle.succeeded();
      return true;
    } catch (error) {
      this.lifecycle.failed(error instanceof SendError ? error.reason : 'unreachable', error);
      return false;
    }
  }

  /**
   * The snappy-compressed `WriteRequest`: the protobuf exposition, turned into time series, compressed.
   * Each step works in slices of `SLICE_MS` (as the render does), on the chunks of the one before,
   * never joined: no turn of the event loop does more than a slice.
   */
  private async encode(snapshot: readonly Metric[]): Promise<Buffer[]> {
    // Strictly increasing, even for two sends in one millisecond or a clock set back.
    const timestampMs = Math.max(Date.now(), this.lastTimestampMs + 1);
    this.lastTimestampMs = timestampMs;
    const exposition = await this.render(snapshot);
    let slice = 0;
    const pause = async (): Promise<void> => {
      if (performance.now() - slice < SLICE_MS) return;
      await nextTurn();
      slice = performance.now();
    };
    const writer = new ProtoWriter();
    try {
      // The render's last slice and the encoding's first are two turns.
      await pause();
      await encodeWriteRequest(writer, exposition, timestampMs, pause);
    } catch (error) {
      // The writer's chunks go back to the pool on a failure too.
      recycleChunks(writer.finish());
      throw error;
    } finally {
      recycleChunks(exposition);
    }
    const parts = writer.finish();
    try {
      return await snappyCompressParts(parts, pause);
    } finally {
      recycleChunks(parts);
    }
  }

  /** The protobuf exposition, as the chunks it is rendered in (at shutdown, of the registry's metrics put back for the render). */
  private render(snapshot: readonly Metric[]): Promise<Buffer[]> {
    return withShutdownSnapshot(this.app.registry, this.moduleOptions.defaultLabels, snapshot, () =>
      this.exposition.renderChunks('protobuf'),
    );
  }
}

/**
 * `POST`s the body on a connection of its own (closed after). 2xx: accepted (the answer's body is not
 * read); 3xx and 4xx but 429: `rejected`; 5xx and 429: `unavailable`; no answer in `timeoutMs`: `timeout`.
 */
function post(options: ResolvedRemoteWriteOptions, body: readonly Buffer[]): Promise<void> {
  const url = new URL(options.url);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<void>((resolve, reject) => {
    const req = ownRequest(
      send(url, {
        method: 'POST',
        agent: false,
        headers: {
          'User-Agent': USER_AGENT,
          ...options.headers,
          'Content-Encoding': 'snappy',
          'Content-Type': 'application/x-protobuf',
          'X-Prometheus-Remote-Write-Version': '0.1.0',
          'Content-Length': body.reduce((sum, part) => sum + part.length, 0),
          Connection: 'close',
        },
      }),
    );
    let settled = false;
    const done = (error?: Error): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.destroy();
      if (error) reject(error);
      else resolve();
    };
    const timer = setTimeout(
      () => done(new SendError('timeout', `no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    timer.unref();
    req.on('error', (error: Error) =>
      done(error instanceof SendError ? error : new SendError('unreachable', describeNetworkError(error))),
    );
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (status >= 200 && status < 300) return done();
      const reason: RemoteWriteFailureReason = status === 429 || status >= 500 ? 'unavailable' : 'rejected';
      const where = status >= 300 && status < 400 ? ' (redirects are not followed)' : '';
      let text = '';
      const finish = (): void =>
        done(
          new SendError(
            reason,
            `HTTP ${status}${where}${text.trim() ? `: ${text.trim().slice(0, MAX_DETAIL)}` : ''}`,
          ),
        );
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk.slice(0, MAX_DETAIL);
        // Enough for the log line: the rest of the body (however big) is never read.
        if (text.length >= MAX_DETAIL) finish();
      });
      res.on('end', finish);
      res.on('error', finish);
    });
    for (const part of body) req.write(part);
    req.end();
  });
}
