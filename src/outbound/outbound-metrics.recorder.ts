import { METHODS } from 'node:http';
import { Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { VezaMetric } from '../catalog/catalog';
import { MetricsServer } from '../endpoint/metrics-server';
import { CounterCell, HistogramCell } from '../http/metric-cells';
import { OTHER_METHOD } from '../http/route-series';
import { statusLabelOf } from '../http/status-label';
import { boundedLabel } from '../instrumentation/labels';
import { InjectVezaMetricsOptions } from '../options/inject-options';
import type { ResolvedOptions } from '../options/resolve-options';
import { AppRegistry } from '../registry/app-registry';
import { CatalogDefinitions } from '../registry/catalog-definitions';
import { SelfMetrics } from '../registry/self-metrics';
import { detached, MAX_LABEL_VALUE_LENGTH } from '../registry/series-guard';
import { libraryMetric, type LibraryCounter, type LibraryHistogram } from '../rpc/library-metric';
import { recordingFailed } from '../veza-metrics.messages';
import {
  joinOutbound,
  leaveOutbound,
  localForms,
  NO_RESPONSE,
  ownHostsChanged,
  type OutboundSink,
} from './outbound-hub';
import { NO_RESPONSE_STATUS, OTHER_HOST, OutboundMetric } from './outbound-labels';
import type { ResolvedOutboundOptions } from './outbound-options';

const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);

/**
 * @internal How many cells (a counter per host, method and status; a histogram per host and method)
 * one application keeps. Hosts, methods and statuses are each bounded, but their product is not
 * small (101 hosts × 35 methods × 502 codes); past this many, a request's cells are made for it and
 * dropped (the series guard's cap still bounds the series).
 */
export const OUTBOUND_CELL_BOUND = 10_000;

/** The cells of one `host` and `method`: the duration, and the counters by status code, made on first use. */
interface MethodSeries {
  readonly duration: HistogramCell<'method' | 'host'>;
  /** By status label (at most 600 codes or 6 classes, `other` and `no_response`). */
  readonly counts: Map<string, CounterCell<'method' | 'host' | 'status'>>;
}

/**
 * Records the outbound HTTP requests of the process while this application runs, with no code in
 * the application: global `fetch` and undici through undici's diagnostics channels
 * (src/compat/undici.ts), `node:http`/`node:https` (axios, `@nestjs/axios`, got ...) through Node's
 * (src/compat/node-http-client.ts). Per request, once: one count in
 * `veza_http_client_requests_total{method, host, status}` and one observation in
 * `veza_http_client_request_duration_seconds{method, host}`, from the request's start to its
 * response's head (or to its failure: `status="no_response"`). Not counted: requests to the servers
 * of the applications recording in this process (their own `/metrics`, a test's client), and the
 * library's own Pushgateway pushes. The families appear with the first counted request.
 *
 * Bound: `host` takes at most `outbound.maxHosts` distinct hosts (cut to 256 units first) besides
 * the names of `outbound.hosts`, then `<other>`; `method` is one of Node's methods or `OTHER`;
 * `status` a class or a code. The caches below hold at most that many entries.
 */
@Injectable()
export class OutboundMetricsRecorder implements OnApplicationBootstrap, OnModuleDestroy, OutboundSink {
  private readonly logger = new Logger('VezaMetrics');
  private readonly outbound: ResolvedOutboundOptions;
  private readonly names: ReadonlyMap<string, string>;
  /** Hosts that took a slot of `maxHosts`, cut. */
  private readonly kept = new Set<string>();
  /** The label of each host as read (origin or `Host` header), at most {@link rawBound} of them. */
  private readonly labelOf = new Map<string, string>();
  private readonly rawBound: number;
  /** The series by `host` label, then by method. */
  private readonly series = new Map<string, Map<string, MethodSeries>>();
  /** Cells kept in {@link series}, at most {@link OUTBOUND_CELL_BOUND}. */
  private cells = 0;
  private families: { requests: LibraryCounter; duration: LibraryHistogram } | undefined;
  private joined = false;
  private failed = false;
  private listening: { server: { off(e: string, f: () => void): unknown }; changed: () => void } | undefined;

  constructor(
    private readonly app: AppRegistry,
    private readonly self: SelfMetrics,
    private readonly definitions: CatalogDefinitions,
    private readonly adapterHost: HttpAdapterHost,
    private readonly metricsServer: MetricsServer,
    @InjectVezaMetricsOptions()
    private readonly options: ResolvedOptions<{ outbound: ResolvedOutboundOptions }>,
  ) {
    this.outbound = options.outbound;
    const names = new Map<string, string>();
    for (const [host, name] of Object.entries(this.outbound.hosts)) names.set(host, boundedLabel(name));
    this.names = names;
    this.rawBound = 2 * this.outbound.maxHosts + names.size + 16;
  }

  onApplicationBootstrap(): void {
    if (!this.outbound.enabled) return;
    try {
      const server = this.adapterHost?.httpAdapter?.getHttpServer?.() as
        { on?: (e: string, f: () => void) => unknown; off(e: string, f: () => void): unknown } | undefined;
      if (server && typeof server.on === 'function') {
        const changed = (): void => ownHostsChanged();
        server.on('listening', changed);
        server.on('close', changed);
        this.listening = { server, changed };
      }
    } catch (error) {
      this.fail(error);
    }
    joinOutbound(this);
    this.joined = true;
  }

  /**
   * Leaves the channels as the application starts closing: the registry clears its metrics in this
   * phase, and a family created after that would be all the final Pushgateway push renders.
   */
  onModuleDestroy(): void {
    if (!this.joined) return;
    this.joined = false;
    leaveOutbound(this);
    const listening = this.listening;
    this.listening = undefined;
    listening?.server.off('listening', listening.changed);
    listening?.server.off('close', listening.changed);
  }

  ownHosts(): readonly string[] | undefined {
    const forms: string[] = [];
    let known = true;
    try {
      const server = this.adapterHost?.httpAdapter?.getHttpServer?.() as
        { address?: () => unknown; listening?: boolean } | undefined;
      if (server?.listening === true && typeof server.address === 'function')
        forms.push(...localForms(server.address() as never));
      if (this.options.endpoint.server !== undefined) {
        const address = this.metricsServer.address();
        if (address === undefined) known = false;
        else forms.push(...localForms(address));
      }
    } catch (error) {
      this.fail(error);
    }
    return known ? forms : undefined;
  }

  record(method: string | undefined, host: string | undefined, status: number, seconds: number): void {
    try {
      const hostLabel = host === undefined ? OTHER_HOST : (this.labelOf.get(host) ?? this.labelFor(host));
      const methodLabel = method !== undefined && KNOWN_METHODS.has(method) ? method : OTHER_METHOD;
      const room = this.cells < OUTBOUND_CELL_BOUND;
      let byMethod = this.series.get(hostLabel);
      if (byMethod === undefined) {
        byMethod = new Map();
        if (room) this.series.set(hostLabel, byMethod);
      }
      let series = byMethod.get(methodLabel);
      const { requests, duration } = this.familiesOf();
      if (series === undefined) {
        series = {
          duration: new HistogramCell(duration, { method: methodLabel, host: hostLabel }),
          counts: new Map(),
        };
        if (room) {
          byMethod.set(methodLabel, series);
          this.cells++;
        }
      }
      const statusLabel =
        status === NO_RESPONSE ? NO_RESPONSE_STATUS : statusLabelOf(status, this.options.statusLabel);
      let count = series.counts.get(statusLabel);
      if (count === undefined) {
        count = new CounterCell(requests, { method: methodLabel, host: hostLabel, status: statusLabel });
        if (room) {
          series.counts.set(statusLabel, count);
          this.cells++;
        }
      }
      count.inc();
      series.duration.observe(seconds);
    } catch (error) {
      this.fail(error);
    }
  }

  /**
   * The `host` label of a host not seen yet: its name in `outbound.hosts` (by `host:port`, then by
   * host name), else the host itself while fewer than `maxHosts` took a slot, else `<other>`.
   * Cached by the string as read while the cache has room.
   */
  private labelFor(raw: string): string {
    const scheme = raw.indexOf('//');
    const authority = scheme < 0 ? raw : raw.slice(scheme + 2);
    const cut =
      authority.length > MAX_LABEL_VALUE_LENGTH
        ? detached(authority.slice(0, MAX_LABEL_VALUE_LENGTH))
        : authority;
    let label = this.names.get(cut) ?? this.names.get(hostName(cut));
    if (label === undefined) {
      if (this.kept.has(cut) || this.kept.size < this.outbound.maxHosts) {
        this.kept.add(cut);
        label = boundedLabel(cut);
      } else label = OTHER_HOST;
    }
    if (this.labelOf.size < this.rawBound && raw.length <= MAX_LABEL_VALUE_LENGTH + 8)
      this.labelOf.set(detached(raw), label);
    return label;
  }

  /** The two families, created with the first counted request (an app that calls nothing out exposes neither). */
  private familiesOf(): { requests: LibraryCounter; duration: LibraryHistogram } {
    if (this.families) return this.families;
    const buckets = this.definitions.of(VezaMetric.HttpRequestDuration).buckets;
    this.families = {
      requests: libraryMetric<LibraryCounter>(this.app, this.self, {
        name: OutboundMetric.Requests,
        kind: 'counter',
        help: 'Outbound HTTP requests (fetch/undici, node:http/https) by method, host and response status (no_response: none came)',
        labelNames: ['method', 'host', 'status'],
      }),
      duration: libraryMetric<LibraryHistogram>(this.app, this.self, {
        name: OutboundMetric.Duration,
        kind: 'histogram',
        help: "Time from an outbound HTTP request's start to its response's head (or its failure), in seconds",
        labelNames: ['method', 'host'],
        buckets,
      }),
    };
    return this.families;
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the outbound HTTP recorder', error));
  }
}

/** `host` of `host[:port]` (an IPv6 host keeps its brackets). */
function hostName(authority: string): string {
  const colon = authority.lastIndexOf(':');
  if (colon < 0 || authority.indexOf(']', colon) >= 0) return authority;
  return authority.slice(0, colon);
}
