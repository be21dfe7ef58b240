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
import { CONTENT_TYPES } from '../exposition/render-exposition';
import { MetricsExposition } from '../exposition/metrics-exposition';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import { SelfMetrics } from '../registry/self-metrics';
import { errorText, pushFailed, pushRecovered, type PushFailureReason } from '../veza-metrics.messages';
import type { PushFormat, ResolvedPushgatewayOptions } from './pushgateway-options';
import { ownRequest } from '../outbound/outbound-hub';
import {
  describeNetworkError,
  MAX_DETAIL,
  PeriodicSend,
  SendFailure,
  withShutdownSnapshot,
} from './periodic-send';

/** The self-metric counting failed pushes, by `reason`. */
export const PUSH_FAILURES_METRIC = 'veza_metrics_push_failures_total';
const PUSH_FAILURES_HELP =
  'Pushes to the Pushgateway that failed, by reason (unreachable, timeout, rejected, render)';

class PushError extends SendFailure<PushFailureReason> {}

/**
 * Pushes the application's metrics to a Pushgateway (option `pushgateway`): every `intervalMs`
 * while the application runs, and once more when it closes, after the HTTP server has closed, so
 * that the requests in flight at shutdown are in it. A push replaces the metrics of its
 * group (HTTP `PUT`), with the body `/metrics` would serve: in the text format, or in protobuf
 * (`pushgateway.format`), which carries native histograms.
 *
 * A push never throws into the application: a failure is logged once per kind (until a push
 * succeeds again) and counted in `veza_metrics_push_failures_total{reason}`.
 */
@Injectable()
export class MetricsPusher
  implements OnApplicationBootstrap, OnModuleDestroy, BeforeApplicationShutdown, OnApplicationShutdown
{
  private readonly options: ResolvedPushgatewayOptions | undefined;
  /** The timer, the final push and the failure log (periodic-send.ts, shared with remote write). */
  private readonly lifecycle: PeriodicSend<PushFailureReason>;
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;

  /** @internal Nest's injector builds it; the module provides it. */
  constructor(
    private readonly app: AppRegistry,
    private readonly exposition: MetricsExposition,
    self: SelfMetrics,
    @InjectVezaMetricsOptions()
    private readonly moduleOptions: ResolvedOptions<{ pushgateway: ResolvedPushgatewayOptions | undefined }>,
  ) {
    const options = (this.options = moduleOptions.pushgateway);
    this.lifecycle = new PeriodicSend(
      app,
      options && {
        intervalMs: options.intervalMs,
        finalSend: options.pushOnShutdown,
        target: options.target,
        failed: pushFailed,
        recovered: pushRecovered,
        // A slow Pushgateway does not pile up pushes: skip a tick while one is still on its way.
        tick: () => {
          if (this.pending === 0) void this.push();
        },
        send: (snapshot) => this.push(snapshot),
        settled: () => this.queue,
      },
      options && self.counter(PUSH_FAILURES_METRIC, PUSH_FAILURES_HELP, ['reason']),
    );
  }

  /** Nest's start-up hook: starts the periodic push, when `pushgateway.intervalMs` is set. */
  onApplicationBootstrap(): void {
    this.lifecycle.start();
  }

  /**
   * Stops the periodic push, and notes the registry's metrics: Nest destroys this provider before
   * the registry it depends on, which clears the registry it owns.
   */
  onModuleDestroy(): void {
    this.lifecycle.stop();
  }

  /**
   * Nest closes the HTTP server next (it stops accepting, and waits for the responses in flight):
   * the final push waits for that (see `onApplicationShutdown`), but pushes at `FINAL_PUSH_WAIT_MS`
   * anyway, so that a response that never ends (a stream, a hung client) cannot cost the whole
   * push when the process is killed at the end of its grace period.
   */
  beforeApplicationShutdown(): void {
    this.lifecycle.beforeShutdown();
  }

  /**
   * The final push: after every `onModuleDestroy` hook of the application has run (what a job records
   * while it shuts down is in it) and once the HTTP server is closed (so are the requests that were
   * in flight when the shutdown began). A periodic push on its way ends before `app.close()` does.
   */
  onApplicationShutdown(): Promise<void> {
    return this.lifecycle.shutdown();
  }

  /**
   * Pushes now (after any push on its way). Resolves `true` when the Pushgateway accepted the
   * metrics, `false` otherwise; never rejects. Resolves `false` at once without a `pushgateway` option.
   */
  push(snapshot: readonly Metric[] = []): Promise<boolean> {
    const options = this.options;
    if (!options) return Promise.resolve(false);
    this.pending++;
    const run = this.queue.then(() => this.pushOnce(options, snapshot));
    this.queue = run.finally(() => this.pending--);
    return run;
  }

  private async pushOnce(options: ResolvedPushgatewayOptions, snapshot: readonly Metric[]): Promise<boolean> {
    try {
      let body: Buffer;
      try {
        body = await this.render(snapshot, options.format);
      } catch (error) {
        throw new PushError('render', errorText(error));
      }
      await put(options, body);
      this.lifecycle.succeeded();
      return true;
    } catch (error) {
      this.lifecycle.failed(error instanceof PushError ? error.reason : 'unreachable', error);
      return false;
    }
  }

  /**
   * What `/metrics` serves, in `format`. At shutdown the registry the module owns is already
   * cleared: its metrics (still counting) go back in for the time of the render, with its default labels.
   */
  private render(snapshot: readonly Metric[], format: PushFormat): Promise<Buffer> {
    return withShutdownSnapshot(this.app.registry, this.moduleOptions.defaultLabels, snapshot, () =>
      this.exposition.renderBytes(format),
    );
  }
}

/** `PUT`s `body` to the group's URL on a connection of its own (closed after: nothing keeps a job alive). */
function put(options: ResolvedPushgatewayOptions, body: Buffer): Promise<void> {
  const url = new URL(options.groupUrl);
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<void>((resolve, reject) => {
    // The library's own request: not counted as the application's outbound HTTP (src/outbound/).
    const req = ownRequest(
      send(url, {
        method: 'PUT',
        agent: false,
        headers: {
          ...options.headers,
          'Content-Type': CONTENT_TYPES[options.format],
          'Content-Length': body.length,
          Connection: 'close',
        },
      }),
    );
    const timer = setTimeout(
      () => req.destroy(new PushError('timeout', `no answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    timer.unref();
    const fail = (error: Error): void => {
      clearTimeout(timer);
      reject(error instanceof PushError ? error : new PushError('unreachable', describeNetworkError(error)));
    };
    req.on('error', fail);
    req.on('response', (res: IncomingMessage) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (text.length < MAX_DETAIL) text += chunk;
      });
      res.on('error', fail);
      res.on('end', () => {
        clearTimeout(timer);
        const status = res.statusCode ?? 0;
        if (status >= 200 && status < 300) resolve();
        else
          reject(
            new PushError(
              'rejected',
              `HTTP ${status}${text.trim() ? `: ${text.trim().slice(0, MAX_DETAIL)}` : ''}`,
            ),
          );
      });
    });
    req.end(body);
  });
}
