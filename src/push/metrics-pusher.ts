import {
  Injectable,
  Logger,
  type BeforeApplicationShutdown,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
  type OnModuleDestroy,
} from '@nestjs/common';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AnyMetric as Metric, CounterMetric as Counter, MetricsRegistry } from '../compat/client-types';
import { metricsOf } from '../compat/metrics-client';
import { CONTENT_TYPES } from '../exposition/render-exposition';
import { MetricsExposition } from '../exposition/metrics-exposition';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import { SelfMetrics } from '../registry/self-metrics';
import { errorText, pushFailed, pushRecovered, type PushFailureReason } from '../veza-metrics.messages';
import type { PushFormat, ResolvedPushgatewayOptions } from './pushgateway-options';
import { ownRequest } from '../outbound/outbound-hub';

/** The self-metric counting failed pushes, by `reason`. */
export const PUSH_FAILURES_METRIC = 'veza_metrics_push_failures_total';
const PUSH_FAILURES_HELP =
  'Pushes to the Pushgateway that failed, by reason (unreachable, timeout, rejected, render)';

/**
 * The longest the final push waits for the HTTP server to close (its in-flight responses to finish)
 * before it pushes anyway; it pushes again once the server is closed.
 */
export const FINAL_PUSH_WAIT_MS = 10_000;

/** The longest part of a rejection's body kept for the log line. */
const MAX_DETAIL = 300;

class PushError extends Error {
  constructor(
    readonly reason: PushFailureReason,
    detail: string,
  ) {
    super(detail);
  }
}

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
  private readonly logger = new Logger('VezaMetrics');
  private readonly options: ResolvedPushgatewayOptions | undefined;
  private readonly failures: Counter<'reason'> | undefined;
  private readonly logged = new Set<PushFailureReason>();
  private timer: NodeJS.Timeout | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private pending = 0;
  /** The registry's metrics as they were just before the module destroyed it (see `beforeApplicationShutdown`). */
  private snapshot: Metric[] = [];
  private finalPushDone = false;
  /** Pushes at `FINAL_PUSH_WAIT_MS` when the HTTP server takes longer than that to close. */
  private waitTimer: NodeJS.Timeout | undefined;

  /** @internal Nest's injector builds it; the module provides it. */
  constructor(
    private readonly app: AppRegistry,
    private readonly exposition: MetricsExposition,
    self: SelfMetrics,
    @InjectVezaMetricsOptions()
    private readonly moduleOptions: ResolvedOptions<{ pushgateway: ResolvedPushgatewayOptions | undefined }>,
  ) {
    this.options = moduleOptions.pushgateway;
    if (this.options) this.failures = self.counter(PUSH_FAILURES_METRIC, PUSH_FAILURES_HELP, ['reason']);
  }

  /** Nest's start-up hook: starts the periodic push, when `pushgateway.intervalMs` is set. */
  onApplicationBootstrap(): void {
    const interval = this.options?.intervalMs;
    if (interval === undefined || this.timer) return;
    this.timer = setInterval(() => {
      // A slow Pushgateway does not pile up pushes: skip a tick while one is still on its way.
      if (this.pending === 0) void this.push();
    }, interval);
    this.timer.unref();
  }

  /**
   * Stops the periodic push, and notes the registry's metrics: Nest destroys this provider before
   * the registry it depends on, which clears the registry it owns.
   */
  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.options?.pushOnShutdown) this.snapshot = metricsOf(this.app.registry);
  }

  /**
   * Nest closes the HTTP server next (it stops accepting, and waits for the responses in flight):
   * the final push waits for that (see `onApplicationShutdown`), but pushes at `FINAL_PUSH_WAIT_MS`
   * anyway, so that a response that never ends (a stream, a hung client) cannot cost the whole
   * push when the process is killed at the end of its grace period.
   */
  beforeApplicationShutdown(): void {
    if (!this.options?.pushOnShutdown || this.finalPushDone || this.waitTimer) return;
    this.waitTimer = setTimeout(() => void this.push(this.snapshot), FINAL_PUSH_WAIT_MS);
    this.waitTimer.unref();
  }

  /**
   * The final push: after every `onModuleDestroy` hook of the application has run (what a job records
   * while it shuts down is in it) and once the HTTP server is closed (so are the requests that were
   * in flight when the shutdown began).
   */
  async onApplicationShutdown(): Promise<void> {
    clearTimeout(this.waitTimer);
    if (!this.options?.pushOnShutdown || this.finalPushDone) {
      // A periodic push on its way ends before `app.close()` does (within `timeoutMs`): nothing of a
      // closed application reaches the Pushgateway after it.
      await this.queue;
      return;
    }
    this.finalPushDone = true;
    await this.push(this.snapshot);
    this.snapshot = [];
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
      if (this.logged.size > 0) {
        this.logged.clear();
        this.logger.log(pushRecovered(options.target));
      }
      return true;
    } catch (error) {
      const reason = error instanceof PushError ? error.reason : 'unreachable';
      this.failures?.inc({ reason });
      if (!this.logged.has(reason)) {
        this.logged.add(reason);
        this.logger.warn(pushFailed(options.target, reason, errorText(error)));
      }
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

/**
 * `render()`, with the module's registry as the application had it: at shutdown that registry is
 * already cleared, so the metrics noted before (`snapshot`, still counting) go back in for the time
 * of the render, with the module's default labels, and out again after. Shared by the Pushgateway
 * push and remote write.
 */
export async function withShutdownSnapshot<T>(
  registry: MetricsRegistry,
  defaultLabels: Readonly<Record<string, string>>,
  snapshot: readonly Metric[],
  render: () => Promise<T>,
): Promise<T> {
  if (snapshot.length === 0 || registry.getMetricsAsArray().length > 0) return render();
  for (const metric of snapshot) registry.registerMetric(metric);
  if (Object.keys(defaultLabels).length > 0) registry.setDefaultLabels({ ...defaultLabels });
  try {
    return await render();
  } finally {
    registry.clear();
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

function describeNetworkError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  return code && !error.message.includes(code) ? `${code}: ${error.message}` : error.message;
}
