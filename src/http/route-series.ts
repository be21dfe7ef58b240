import { METHODS } from 'node:http';
import type { CounterMetric as Counter, HistogramMetric as Histogram } from '../compat/client-types';
import { CounterCell, HistogramCell } from './metric-cells';
import { statusLabelOf } from './status-label';
import type { ExcludedRoutes } from './excluded-routes';

/** The `method` label of a request whose method is not one Node knows (`'OTHER'`), so that `method` stays bounded. */
export const OTHER_METHOD = 'OTHER';

const KNOWN_METHODS: ReadonlySet<string> = new Set(METHODS);
/** Cells per status: one per class (1xx to 5xx, and 'other'), or one per code. */
const CLASS_SLOTS = 7;
const CODE_SLOTS = 601;

/** The series of one (method, endpoint): its duration, and its count per status. */
export class RouteSeries {
  private readonly counts: (CounterCell<'method' | 'endpoint' | 'status'> | undefined)[];

  constructor(
    readonly method: string,
    readonly endpoint: string,
    /** Left out by `http.exclude` or `@NoMetrics()`: nothing is recorded. */
    readonly excluded: boolean,
    readonly duration: HistogramCell<'method' | 'endpoint'>,
    private readonly requests: Counter<'method' | 'endpoint' | 'status'>,
    private readonly byCode: boolean,
  ) {
    this.counts = Array.from({ length: byCode ? CODE_SLOTS : CLASS_SLOTS }, () => undefined);
  }

  /** Counts one response of `status`. */
  count(status: number): void {
    const valid = status >= 100 && status <= 599 && Number.isInteger(status);
    const slot = this.byCode ? (valid ? status : 600) : valid ? (status / 100) | 0 : 6;
    let cell = this.counts[slot];
    if (cell === undefined) {
      const labels = {
        method: this.method,
        endpoint: this.endpoint,
        status: statusLabelOf(status, this.byCode ? 'code' : 'class'),
      };
      cell = this.counts[slot] = new CounterCell(this.requests, labels);
    }
    cell.inc();
  }
}

/**
 * Every (method, endpoint) series of the application, resolved once each: a request costs two Map
 * lookups. The number of entries is bounded by routes × methods: endpoints are route templates (or
 * the one unmatched value) and Node's parser only accepts the methods it knows.
 */
export class SeriesTable {
  private readonly byMethod = new Map<string, Map<string, RouteSeries>>();

  constructor(
    private readonly requests: Counter<'method' | 'endpoint' | 'status'>,
    private readonly duration: Histogram<'method' | 'endpoint'>,
    private readonly byCode: boolean,
    private readonly excluded: ExcludedRoutes,
  ) {}

  get(method: string, endpoint: string): RouteSeries {
    let endpoints = this.byMethod.get(method);
    if (endpoints === undefined) {
      endpoints = new Map();
      this.byMethod.set(method, endpoints);
    }
    let series = endpoints.get(endpoint);
    if (series === undefined) {
      series = this.create(method, endpoint);
      endpoints.set(endpoint, series);
    }
    return series;
  }

  /** Forgets every resolved series (after the exclusions changed). */
  clear(): void {
    this.byMethod.clear();
  }

  private create(rawMethod: string, endpoint: string): RouteSeries {
    const method = KNOWN_METHODS.has(rawMethod) ? rawMethod : OTHER_METHOD;
    const excluded = this.excluded.paths.has(endpoint) || this.excluded.routes.has(`${method} ${endpoint}`);
    const duration = new HistogramCell(this.duration, { method, endpoint });
    return new RouteSeries(method, endpoint, excluded, duration, this.requests, this.byCode);
  }
}
