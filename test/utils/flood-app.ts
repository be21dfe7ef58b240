/**
 * The label flood app (issue #12, item 2), shared by test/e2e/decorators-label-flood.e2e-spec.ts and
 * bench/memory-decorators.bench.ts: `POST /flood {"value": ...}` runs every decorator path that
 * keeps label values taken from input (label functions of the generic decorators, error types,
 * order statuses, upload types and reasons, health check services, message types, query error
 * types) with that one value, and answers 204.
 */
import { Body, Controller, HttpCode, Injectable, Module, Post } from '@nestjs/common';
import {
  CountErrors,
  CountOrder,
  Counted,
  CountWebSocketMessage,
  InProgress,
  Timed,
  TrackDbQuery,
  TrackHealthCheck,
  TrackUpload,
  VezaMetric,
  VezaMetricsModule,
} from '../../src';
import { rawRequest } from './raw-http';

const failure = (value: string): Error => Object.assign(new Error('refused'), { value });

@Injectable()
class Flooded {
  @Counted({
    name: 'app_flood_total',
    help: 'x',
    labelNames: ['value'],
    labels: ({ args: [v] }) => ({ value: v as string }),
  })
  counted(_v: string): void {}

  @Timed({
    name: 'app_flood_seconds',
    help: 'x',
    labelNames: ['value'],
    labels: ({ args: [v] }) => ({ value: v as string }),
  })
  timed(_v: string): void {}

  @InProgress({
    name: 'app_flood_in_flight',
    help: 'x',
    labelNames: ['value'],
    labels: (v: string) => ({ value: v }),
  })
  async inFlight(_v: string): Promise<void> {}

  @CountErrors({
    type: (e) => (e as { value: string }).value,
    severity: (e) => (e as { value: string }).value,
  })
  errors(v: string): void {
    throw failure(v);
  }

  @CountOrder()
  order(v: string): { status: string } {
    return { status: v };
  }

  @TrackUpload({ type: (v: string) => v, size: () => 1 })
  upload(_v: string): void {}

  @TrackUpload({ type: 'audio', failureReason: (e) => (e as { value: string }).value })
  uploadFailing(v: string): void {
    throw failure(v);
  }

  @TrackHealthCheck((v: string) => v)
  health(_v: string): void {}

  @CountWebSocketMessage((v: string) => v, { status: (r: string) => r })
  message(v: string): string {
    return v;
  }

  @TrackDbQuery('select', 'flood', { errorType: (e) => (e as { value: string }).value })
  query(v: string): void {
    throw failure(v);
  }
}

/** Every decorator path above, with one value. */
const PATHS: ReadonlyArray<(f: Flooded, v: string) => unknown> = [
  (f, v) => f.counted(v),
  (f, v) => f.timed(v),
  (f, v) => f.inFlight(v),
  (f, v) => f.errors(v),
  (f, v) => f.order(v),
  (f, v) => f.upload(v),
  (f, v) => f.uploadFailing(v),
  (f, v) => f.health(v),
  (f, v) => f.message(v),
  (f, v) => f.query(v),
];

/** The decorator paths `POST /flood` runs. */
export const FLOOD_PATHS = PATHS.length;
/** The label caches those decorators hold (TrackUpload holds three). */
export const FLOOD_CACHES = 14;
/** The stated bound of one cache: 500 entries and 65,536 units of keys, with their series. */
export const CACHE_BOUND_BYTES = 512 * 1024;

/** Where each path writes the value, as [metric, labels] (the value stands for itself). */
export const FLOOD_SERIES: ReadonlyArray<[string, (v: string) => Record<string, string>]> = [
  ['app_flood_total', (v) => ({ value: v })],
  ['app_flood_seconds_count', (v) => ({ value: v })],
  ['app_flood_in_flight', (v) => ({ value: v })],
  [VezaMetric.Errors, (v) => ({ type: v, severity: v })],
  [VezaMetric.CommerceOrders, (v) => ({ status: v })],
  [VezaMetric.FileUploads, (v) => ({ type: v, status: 'success' })],
  [`${VezaMetric.FileUploadSize}_count`, (v) => ({ type: v })],
  [VezaMetric.UploadsFailed, (v) => ({ reason: v })],
  [VezaMetric.HealthCheckStatus, (v) => ({ service: v })],
  [`${VezaMetric.HealthCheckDuration}_count`, (v) => ({ service: v })],
  [VezaMetric.WebSocketMessages, (v) => ({ type: v, status: v })],
  [VezaMetric.DatabaseQueryErrors, (v) => ({ operation: 'select', error_type: v })],
];

@Controller('flood')
class FloodController {
  constructor(private readonly flooded: Flooded) {}

  @Post()
  @HttpCode(204)
  async flood(@Body() body: { value: string }): Promise<void> {
    for (const path of PATHS) {
      try {
        await path(this.flooded, body.value);
      } catch {
        // The methods that throw do so on purpose.
      }
    }
  }
}

/** The app's module: no default metrics, no HTTP recording, `maxSeries` series per metric. */
export function floodModule(maxSeries: number): new () => unknown {
  @Module({
    imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, http: false, cardinality: { maxSeries } })],
    controllers: [FloodController],
    providers: [Flooded],
  })
  class FloodModule {}
  return FloodModule;
}

/**
 * `POST /flood` with `value`, failing on any status but 204. Over a connection of its own
 * ({@link rawRequest}): with `fetch`'s keep-alive pool, a post after a forced GC on a loaded machine
 * reused a socket the server's keep-alive timeout had closed meanwhile and failed with
 * `fetch failed ECONNRESET` (decorators-label-flood on Express, at load 5 to 13).
 */
export async function postFlood(url: string, value: string): Promise<void> {
  const res = await rawRequest(url, '/flood', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ value }),
  });
  if (res.status !== 204) throw new Error(`POST /flood answered ${res.status}: ${res.body.slice(0, 200)}`);
}
