import { HttpException, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { isObservable } from 'rxjs';
import { VezaMetric } from '../catalog/catalog';
import {
  captureRpcExceptions,
  instrumentServer,
  patternLabel,
  rpcException,
  transportName,
  watchRpcServers,
  type RpcHandler,
  type RpcServerLike,
} from '../compat/nest-microservices';
import { ErrorCounter } from '../http/error-counter';
import { CounterCell, HistogramCell } from '../http/metric-cells';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import { CatalogDefinitions } from '../registry/catalog-definitions';
import { SelfMetrics } from '../registry/self-metrics';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import type { ResolvedRpcOptions } from './rpc-options';
import { recordingFailed, rpcNeedsNewerNest, rpcServerNotInstrumented } from '../veza-metrics.messages';
import { libraryMetric, type LibraryCounter, type LibraryHistogram } from './library-metric';
import { RpcMetric, type RpcKind, type RpcOutcome } from './rpc-labels';
import { endOfReply } from './settle-reply';

type RpcLabel = 'transport' | 'pattern' | 'kind' | 'outcome';

/** The cells of one handler: written on every message without building labels. */
interface HandlerSeries {
  readonly success: CounterCell<RpcLabel>;
  readonly error: CounterCell<RpcLabel>;
  readonly duration: HistogramCell<Exclude<RpcLabel, 'outcome'>>;
}

/**
 * Records every message a `@MessagePattern()` or `@EventPattern()` handler of this application
 * handles, on every transport (standalone and hybrid applications), with no code in the handlers:
 * the server's own handler is wrapped as the server registers it (src/compat/nest-microservices.ts).
 *
 * Per handled message: one count in `veza_rpc_server_requests_total` (outcome `success`, or `error`
 * when the handler threw, rejected or its Observable errored) and one duration in
 * `veza_rpc_server_duration_seconds`, from the call to the handler's last value (an Observable is
 * timed to its completion); an error also counts in `veza_errors_total` as for HTTP. The handler's
 * value, error and timing reach the server unchanged. Labels are bounded by the handlers the
 * application declares: `pattern` is the declared pattern, never a message's.
 */
@Injectable()
export class RpcMetricsRecorder implements OnApplicationShutdown {
  private readonly logger = new Logger('VezaMetrics');
  /** `veza_errors_total`, bounded as HTTP's (see ErrorCounter). */
  private readonly errors: ErrorCounter;
  private families: { requests: LibraryCounter; duration: LibraryHistogram } | undefined;
  private readonly stop: (() => void) | undefined;
  private failed = false;

  constructor(
    metrics: VezaMetricsRegistry,
    modules: ModulesContainer,
    private readonly app: AppRegistry,
    private readonly self: SelfMetrics,
    private readonly definitions: CatalogDefinitions,
    @InjectVezaMetricsOptions() options: ResolvedOptions<{ rpc: ResolvedRpcOptions }>,
  ) {
    this.errors = new ErrorCounter(() => metrics.get(VezaMetric.Errors));
    if (!options.rpc.enabled) return;
    this.stop = watchRpcServers(modules, (server) => this.attach(server));
    // Nest 10: no way to find the servers. Said once at start-up when the app could have any.
    if (this.stop === undefined && microservicesInstalled()) this.logger.warn(rpcNeedsNewerNest());
  }

  onApplicationShutdown(): void {
    this.stop?.();
  }

  private attach(server: RpcServerLike): void {
    try {
      const transport = transportName(server);
      captureRpcExceptions();
      if (!instrumentServer(server, (head, key) => this.wrap(head, transport, key))) {
        this.logger.warn(rpcServerNotInstrumented(transport));
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** The two families, created with the first microservice server (an app without one exposes neither). */
  private familiesOf(): { requests: LibraryCounter; duration: LibraryHistogram } {
    if (this.families) return this.families;
    const buckets = this.definitions.of(VezaMetric.HttpRequestDuration).buckets;
    this.families = {
      requests: libraryMetric<LibraryCounter>(this.app, this.self, {
        name: RpcMetric.Requests,
        kind: 'counter',
        help: 'Messages handled by @MessagePattern (kind="request") and @EventPattern (kind="event") handlers',
        labelNames: ['transport', 'pattern', 'kind', 'outcome'],
      }),
      duration: libraryMetric<LibraryHistogram>(this.app, this.self, {
        name: RpcMetric.Duration,
        kind: 'histogram',
        help: 'Time from a message handler call to its last value (an Observable: its completion), in seconds',
        labelNames: ['transport', 'pattern', 'kind'],
        buckets,
      }),
    };
    return this.families;
  }

  private wrap(head: RpcHandler, transport: string, key: string): RpcHandler {
    const pattern = patternLabel(key, transport);
    const kind: RpcKind = head.isEventHandler === true ? 'event' : 'request';
    const { requests, duration } = this.familiesOf();
    const labels = { transport, pattern, kind };
    const series: HandlerSeries = {
      success: new CounterCell<RpcLabel>(requests, { ...labels, outcome: 'success' satisfies RpcOutcome }),
      error: new CounterCell<RpcLabel>(requests, { ...labels, outcome: 'error' satisfies RpcOutcome }),
      duration: new HistogramCell<Exclude<RpcLabel, 'outcome'>>(duration, labels),
    };
    const done = (start: number, ok: boolean, args: unknown[], error: unknown): void =>
      this.done(series, start, ok, args, error);
    // A value is a success now; an Observable is recorded once, at its first completion or error.
    const settle = (start: number, args: unknown[], value: unknown): unknown => {
      if (!isObservable(value)) {
        done(start, true, args, undefined);
        return value;
      }
      return endOfReply(value, done, start, args);
    };
    const handler = function (this: unknown, ...args: unknown[]): unknown {
      const start = performance.now();
      let result: unknown;
      try {
        result = head.apply(this, args);
      } catch (error) {
        done(start, false, args, error);
        throw error;
      }
      if (result instanceof Promise) {
        return result.then(
          (value: unknown) => settle(start, args, value),
          (error: unknown) => {
            done(start, false, args, error);
            throw error;
          },
        );
      }
      return settle(start, args, result);
    };
    Object.defineProperty(handler, 'name', { value: head.name });
    return handler;
  }

  private done(series: HandlerSeries, start: number, ok: boolean, args: unknown[], error: unknown): void {
    try {
      (ok ? series.success : series.error).inc();
      series.duration.observe((performance.now() - start) / 1000);
      if (!ok) this.countError(rpcException(args) ?? (error instanceof Error ? error : undefined));
    } catch (failure) {
      this.fail(failure);
    }
  }

  private countError(exception: unknown): void {
    const severity = exception === undefined || chosenByApp(exception) ? 'error' : 'critical';
    this.errors.count(this.errors.typeOf(exception), severity);
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the RPC recorder', error));
  }
}

/** An `RpcException` (or an `HttpException`) is an error the handler chose to answer: severity `error`. */
function chosenByApp(exception: unknown): boolean {
  if (exception instanceof HttpException) return true;
  for (
    let p = Object.getPrototypeOf(exception) as object | null;
    p !== null;
    p = Object.getPrototypeOf(p) as object | null
  ) {
    if ((p as { constructor?: { name?: string } }).constructor?.name === 'RpcException') return true;
  }
  return false;
}

/** `@nestjs/microservices` can be loaded from here (an app without it has no server to record). */
function microservicesInstalled(): boolean {
  try {
    require.resolve('@nestjs/microservices');
    return true;
  } catch {
    return false;
  }
}
