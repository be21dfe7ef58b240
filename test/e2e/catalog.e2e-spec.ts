/**
 * Conformance of /metrics to the Veza catalog (rows 1 to 30, test/fixtures/catalog.md): name, # TYPE,
 * # HELP, label names and bucket boundaries, on the sample app over both adapters.
 *
 * The expected table below is transcribed by hand from the catalog, not imported from src/, so that
 * a change to the library's catalog data cannot make this test agree with itself. The transcription
 * is also checked against the catalog's table, copied into test/fixtures/catalog.md.
 */
import { Module } from '@nestjs/common';
import { VezaMetricsModule, VezaMetricsService } from '@veza/nestjs-metrics';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { AppModule } from '../../sample-app/src/app.module';
import { ADAPTERS, scrape, startApp, type AdapterKind, type StartedApp } from '../utils/app';
import { parseExposition, type Family } from '../utils/exposition';

interface CatalogRow {
  n: number;
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  labels: string[];
  buckets?: number[];
  /** `null` where the catalog shows no help (rows 29 and 30): any non-empty help is accepted. */
  help: string | null;
}

const UPLOAD_BUCKETS = [
  1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4194304, 8388608,
  16777216,
];

const CATALOG: CatalogRow[] = [
  {
    n: 1,
    name: 'veza_http_requests_total',
    type: 'counter',
    labels: ['method', 'endpoint', 'status'],
    help: 'Total number of HTTP requests',
  },
  {
    n: 2,
    name: 'veza_http_request_duration_seconds',
    type: 'histogram',
    labels: ['method', 'endpoint'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5],
    help: 'HTTP request duration in seconds',
  },
  {
    n: 3,
    name: 'veza_auth_login_attempts_total',
    type: 'counter',
    labels: ['success'],
    help: 'Total number of login attempts',
  },
  { n: 4, name: 'veza_auth_sessions_active', type: 'gauge', labels: [], help: 'Number of active sessions' },
  {
    n: 5,
    name: 'veza_database_query_duration_seconds',
    type: 'histogram',
    labels: ['operation', 'table'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    help: 'Database query duration in seconds',
  },
  {
    n: 6,
    name: 'veza_database_connections_active',
    type: 'gauge',
    labels: [],
    help: 'Number of active database connections',
  },
  {
    n: 7,
    name: 'veza_database_query_errors_total',
    type: 'counter',
    labels: ['operation', 'error_type'],
    help: 'Total number of database query errors',
  },
  {
    n: 8,
    name: 'veza_file_uploads_total',
    type: 'counter',
    labels: ['type', 'status'],
    help: 'Total number of file uploads',
  },
  {
    n: 9,
    name: 'veza_file_upload_size_bytes',
    type: 'histogram',
    labels: ['type'],
    buckets: UPLOAD_BUCKETS,
    help: 'File upload size in bytes',
  },
  {
    n: 10,
    name: 'veza_rate_limit_hits_total',
    type: 'counter',
    labels: ['endpoint', 'limit_type'],
    help: 'Total number of rate limit hits',
  },
  { n: 11, name: 'veza_active_users', type: 'gauge', labels: [], help: 'Number of active users' },
  {
    n: 12,
    name: 'veza_websocket_connections_active',
    type: 'gauge',
    labels: [],
    help: 'Number of active WebSocket connections',
  },
  {
    n: 13,
    name: 'veza_websocket_messages_total',
    type: 'counter',
    labels: ['type', 'status'],
    help: 'Total number of WebSocket messages',
  },
  {
    n: 14,
    name: 'veza_errors_total',
    type: 'counter',
    labels: ['type', 'severity'],
    help: 'Total number of errors',
  },
  {
    n: 15,
    name: 'veza_health_check_duration_ms',
    type: 'histogram',
    labels: ['service'],
    buckets: [1, 5, 10, 25, 50, 100, 250, 500, 1000],
    help: 'Health check duration in milliseconds',
  },
  {
    n: 16,
    name: 'veza_health_check_status',
    type: 'gauge',
    labels: ['service'],
    help: 'Health check status (1=ok, 0.5=slow, 0=error)',
  },
  {
    n: 17,
    name: 'veza_tracks_uploaded_total',
    type: 'counter',
    labels: [],
    help: 'Total number of tracks uploaded',
  },
  {
    n: 18,
    name: 'veza_commerce_orders_total',
    type: 'counter',
    labels: ['status'],
    help: 'Total number of commerce orders created',
  },
  {
    n: 19,
    name: 'veza_commerce_checkout_duration_seconds',
    type: 'histogram',
    labels: [],
    buckets: [0.1, 0.25, 0.5, 1, 2, 5],
    help: 'Checkout (cart to order) duration in seconds',
  },
  {
    n: 20,
    name: 'veza_users_registered_total',
    type: 'counter',
    labels: [],
    help: 'Total number of users registered',
  },
  {
    n: 21,
    name: 'veza_playlists_created_total',
    type: 'counter',
    labels: [],
    help: 'Total number of playlists created',
  },
  {
    n: 22,
    name: 'veza_uploads_failed_total',
    type: 'counter',
    labels: ['reason'],
    help: 'Total number of failed uploads',
  },
  {
    n: 23,
    name: 'veza_transfer_retry_total',
    type: 'counter',
    labels: [],
    help: 'Total number of transfer retry attempts',
  },
  {
    n: 24,
    name: 'veza_transfer_retry_success_total',
    type: 'counter',
    labels: [],
    help: 'Total number of successful transfer retries',
  },
  {
    n: 25,
    name: 'veza_transfer_retry_failures_total',
    type: 'counter',
    labels: [],
    help: 'Total number of failed transfer retries',
  },
  {
    n: 26,
    name: 'veza_transfer_retry_permanent_failures_total',
    type: 'counter',
    labels: [],
    help: 'Total number of permanently failed transfers (max retries exceeded)',
  },
  {
    n: 27,
    name: 'veza_live_streams_active',
    type: 'gauge',
    labels: [],
    help: 'Number of currently active live streams',
  },
  {
    n: 28,
    name: 'veza_live_stream_viewers_total',
    type: 'gauge',
    labels: [],
    help: 'Total number of viewers across all active live streams',
  },
  { n: 29, name: 'veza_cache_hits_total', type: 'counter', labels: ['subsystem'], help: null },
  { n: 30, name: 'veza_cache_misses_total', type: 'counter', labels: ['subsystem'], help: null },
];

/** The sample app's default labels: present on every series besides the metric's own labels. */
const DEFAULT_LABELS = ['service'];
const PROM_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const CATALOG_FILE = resolve(__dirname, '../fixtures/catalog.md');

/** Parses the catalog's markdown table (rows `| n | name | type | labels | buckets | help | helper |`). */
function parseCatalogFile(markdown: string): CatalogRow[] {
  const rows: CatalogRow[] = [];
  for (const line of markdown.split('\n')) {
    if (!/^\|\s*\d+\s*\|/.test(line)) continue;
    const [n, name, type, labels, buckets, help] = line
      .split('|')
      .slice(1, -1)
      .map((cell) => cell.trim()) as [string, string, string, string, string, string];
    rows.push({
      n: Number(n),
      name,
      type: type as CatalogRow['type'],
      labels: labels === '' ? [] : labels.split(',').map((l) => l.trim()),
      ...(buckets === '' ? {} : { buckets: parseBuckets(buckets) }),
      help: help.startsWith('(not shown') ? null : help,
    });
  }
  return rows;
}

function parseBuckets(cell: string): number[] {
  const exponential = /^(\d+) × 2\^k for k = (\d+)\.\.(\d+)/.exec(cell);
  if (exponential) {
    const [, start, from, to] = exponential.map(Number) as [number, number, number, number];
    return Array.from({ length: to - from + 1 }, (_, i) => start * 2 ** (from + i));
  }
  const list = /^[\d.]+(?:,\s*[\d.]+)*/.exec(cell);
  if (!list) throw new Error(`unreadable buckets cell: ${cell}`);
  return list[0].split(',').map((b) => Number(b.trim()));
}

/**
 * The transport families of issue 15 (docs/graphql.md, docs/rpc.md) and the outbound ones of issue 23
 * (docs/outbound.md): outside the catalog; the sample app serves GraphQL and calls its payment provider.
 */
const TRANSPORT_FAMILY = /^veza_(graphql|rpc|queue|http_client)_/;

/**
 * The families of the catalog's namespace. The library's own metrics about itself (`veza_metrics_*`,
 * e.g. rejected scrapes) are not catalog rows and are left out, so that every other `veza_` family
 * must be a catalog name, spelled exactly.
 */
const catalogNamespace = (families: Map<string, Family>): string[] =>
  [...families.keys()]
    .filter(
      (name) => name.startsWith('veza_') && !name.startsWith('veza_metrics_') && !TRANSPORT_FAMILY.test(name),
    )
    .sort();

/** The label names of a sample, without the histogram's `le`. */
const labelNamesOf = (labels: Record<string, string>): string[] =>
  Object.keys(labels)
    .filter((l) => l !== 'le')
    .sort();

/** The `le` values of one histogram series, in exposition order. */
function bucketBounds(family: Family, series: Record<string, string>): string[] {
  const key = JSON.stringify(labelNamesOf(series).map((l) => [l, series[l]]));
  return family.samples
    .filter(
      (s) =>
        s.name === `${family.name}_bucket` &&
        JSON.stringify(labelNamesOf(s.labels).map((l) => [l, s.labels[l]])) === key,
    )
    .map((s) => s.labels.le);
}

/** Asserts one family against its catalog row: type, help, label names of every series, buckets. */
function expectConforms(families: Map<string, Family>, row: CatalogRow, defaultLabels: string[]): void {
  const family = families.get(row.name);
  expect({ row: row.n, name: family?.name }).toEqual({ row: row.n, name: row.name });
  if (!family) return;
  expect({ row: row.n, type: family.type }).toEqual({ row: row.n, type: row.type });
  if (row.help === null) expect(family.help.length).toBeGreaterThan(0);
  else expect({ row: row.n, help: family.help }).toEqual({ row: row.n, help: row.help });

  expect({ row: row.n, series: family.samples.length > 0 }).toEqual({ row: row.n, series: true });
  const expectedLabels = [...new Set([...row.labels, ...defaultLabels])].sort();
  for (const sample of family.samples) {
    expect({ row: row.n, sample: sample.name, labels: labelNamesOf(sample.labels) }).toEqual({
      row: row.n,
      sample: sample.name,
      labels: expectedLabels,
    });
  }

  const suffixes = row.type === 'histogram' ? ['_bucket', '_sum', '_count'] : [''];
  expect({ row: row.n, names: [...new Set(family.samples.map((s) => s.name))].sort() }).toEqual({
    row: row.n,
    names: suffixes.map((s) => row.name + s).sort(),
  });

  if (row.buckets) {
    const expectedBounds = [...row.buckets.map(String), '+Inf'];
    for (const sample of family.samples.filter((s) => s.name === `${row.name}_count`)) {
      expect({ row: row.n, series: sample.labels, le: bucketBounds(family, sample.labels) }).toEqual({
        row: row.n,
        series: sample.labels,
        le: expectedBounds,
      });
    }
  }
}

/** Writes one series into every labelled catalog metric: through the sample's routes where it has them. */
async function populate(started: StartedApp): Promise<void> {
  const { app, url } = started;
  expect((await fetch(`${url}/tracks`)).status).toBe(200); // rows 1, 2, and 5 (a select on tracks)
  expect((await fetch(`${url}/health`)).status).toBe(200); // rows 15, 16
  const metrics = app.get(VezaMetricsService);
  metrics.recordLoginAttempt(false);
  metrics.recordDatabaseError('insert', 'unique_violation');
  metrics.recordFileUpload('audio', 'success', 3000);
  metrics.recordRateLimitHit('/auth/login', 'failed_logins');
  metrics.recordWebSocketMessage('chat', 'ok');
  metrics.recordError('payment_declined', 'warning');
  metrics.recordCommerceOrder('completed');
  metrics.recordUploadFailed('quota');
  metrics.recordCacheHit('tracks');
  metrics.recordCacheMiss('tracks');
}

it('the transcription has rows 1 to 30, in order, with distinct names', () => {
  expect(CATALOG.map((r) => r.n)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
  expect(new Set(CATALOG.map((r) => r.name)).size).toBe(30);
});

it('the transcription equals the table of the catalog (test/fixtures/catalog.md)', () => {
  const rows = parseCatalogFile(readFileSync(CATALOG_FILE, 'utf8'));
  expect(rows).toHaveLength(30);
  expect(rows).toEqual(CATALOG);
});

describe.each(ADAPTERS)('catalog conformance of the sample app on %s', (kind: AdapterKind) => {
  let started: StartedApp;
  let fresh: string;

  beforeAll(async () => {
    started = await startApp(kind, { imports: [AppModule] });
    fresh = await scrape(started.url);
  }, 60_000); // the sample app builds its GraphQL schema at start-up: seconds on a loaded machine

  afterAll(async () => {
    await started?.app.close();
  });

  it('serves the exposition with exactly prom-client Content-Type', async () => {
    const res = await fetch(`${started.url}/metrics`);
    await res.text();
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe(PROM_CONTENT_TYPE);
  });

  it('shows a sample of every unlabelled counter and gauge from the start (counters at zero)', () => {
    const families = parseExposition(fresh);
    for (const row of CATALOG.filter((r) => r.labels.length === 0 && r.type !== 'histogram')) {
      const samples = families.get(row.name)?.samples ?? [];
      expect({ row: row.n, samples: samples.length }).toEqual({ row: row.n, samples: 1 });
      if (row.type === 'counter')
        expect({ row: row.n, value: samples[0]?.value }).toEqual({ row: row.n, value: 0 });
    }
  });

  it("exposes the 30 catalog names (no other veza_ name but the library's own veza_metrics_* and the transport families) with type, help, labels and buckets", async () => {
    await populate(started);
    const families = parseExposition(await scrape(started.url));
    expect(catalogNamespace(families)).toEqual(CATALOG.map((r) => r.name).sort());
    for (const row of CATALOG) expectConforms(families, row, DEFAULT_LABELS);
  });

  it("includes Node's default process metrics", async () => {
    const families = parseExposition(await scrape(started.url));
    const expected: Record<string, string> = {
      process_cpu_user_seconds_total: 'counter',
      process_cpu_system_seconds_total: 'counter',
      process_start_time_seconds: 'gauge',
      nodejs_heap_size_used_bytes: 'gauge',
      nodejs_heap_size_total_bytes: 'gauge',
      nodejs_eventloop_lag_seconds: 'gauge',
    };
    for (const [name, type] of Object.entries(expected)) {
      expect({
        name,
        type: families.get(name)?.type,
        series: (families.get(name)?.samples.length ?? 0) > 0,
      }).toEqual({
        name,
        type,
        series: true,
      });
    }
    expect(families.get('nodejs_version_info')?.samples[0]?.labels.version).toBe(process.version);
  });
});

describe.each(ADAPTERS)('a bare VezaMetricsModule on %s', (kind: AdapterKind) => {
  it('shows every unlabelled counter and gauge at zero from the start, and no series of a labelled one', async () => {
    @Module({ imports: [VezaMetricsModule.forRoot()] })
    class BareModule {}
    const started = await startApp(kind, { imports: [BareModule] });
    try {
      const families = parseExposition(await scrape(started.url));
      for (const row of CATALOG) {
        const samples = families.get(row.name)?.samples;
        expect({ row: row.n, listed: samples !== undefined }).toEqual({ row: row.n, listed: true });
        if (row.labels.length > 0)
          expect({ row: row.n, samples: samples?.length }).toEqual({ row: row.n, samples: 0 });
        else if (row.type !== 'histogram')
          expect({ row: row.n, values: samples?.map((s) => s.value) }).toEqual({ row: row.n, values: [0] });
      }
      // The one unlabelled histogram is shown empty, every bucket at zero.
      const checkout = families.get('veza_commerce_checkout_duration_seconds');
      expect(checkout?.samples.every((s) => s.value === 0)).toBe(true);
      expectConforms(families, CATALOG[18], []);
    } finally {
      await started.app.close();
    }
  });
});

describe.each(ADAPTERS)('naming "strict" on %s', (kind: AdapterKind) => {
  const STRICT_HEALTH = 'veza_health_check_duration_seconds';
  const STRICT_VIEWERS = 'veza_live_stream_viewers';
  let started: StartedApp;

  beforeAll(async () => {
    @Module({
      imports: [VezaMetricsModule.forRoot({ naming: 'strict', defaultLabels: { service: 'veza-api' } })],
    })
    class StrictModule {}
    started = await startApp(kind, { imports: [StrictModule] });
  });

  afterAll(async () => {
    await started?.app.close();
  });

  it(`renames rows 15 and 28 (${STRICT_HEALTH}, ${STRICT_VIEWERS}), health checks in seconds, and keeps the 28 others`, async () => {
    const metrics = started.app.get(VezaMetricsService);
    metrics.recordHealthCheck('database', 12, 'ok');
    metrics.updateLiveStreamViewers(7);
    await fetch(`${started.url}/anything`);
    const families = parseExposition(await scrape(started.url));

    const renamed: Record<string, string> = {
      veza_health_check_duration_ms: STRICT_HEALTH,
      veza_live_stream_viewers_total: STRICT_VIEWERS,
    };
    expect(catalogNamespace(families)).toEqual(CATALOG.map((r) => renamed[r.name] ?? r.name).sort());
    expect(families.has('veza_health_check_duration_ms')).toBe(false);
    expect(families.has('veza_live_stream_viewers_total')).toBe(false);

    const health = families.get(STRICT_HEALTH);
    expect(health?.type).toBe('histogram');
    expect(health?.help).toMatch(/seconds/);
    expect(health?.help).not.toMatch(/milli/);
    expect(bucketBounds(health as Family, { service: 'database' })).toEqual([
      '0.001',
      '0.005',
      '0.01',
      '0.025',
      '0.05',
      '0.1',
      '0.25',
      '0.5',
      '1',
      '+Inf',
    ]);
    const sample = (name: string, le?: string): number | undefined =>
      health?.samples.find(
        (s) => s.name === name && s.labels.service === 'database' && (le === undefined || s.labels.le === le),
      )?.value;
    expect(sample(`${STRICT_HEALTH}_sum`)).toBeCloseTo(0.012, 9);
    expect(sample(`${STRICT_HEALTH}_count`)).toBe(1);
    expect(sample(`${STRICT_HEALTH}_bucket`, '0.01')).toBe(0);
    expect(sample(`${STRICT_HEALTH}_bucket`, '0.025')).toBe(1);

    const viewers = families.get(STRICT_VIEWERS);
    expect(viewers?.type).toBe('gauge');
    expect(viewers?.help).toBe('Total number of viewers across all active live streams');
    expect(viewers?.samples.map((s) => s.value)).toEqual([7]);

    for (const row of CATALOG.filter(
      (r) => !(r.name in renamed) && (r.labels.length === 0 || r.name.startsWith('veza_http_')),
    )) {
      expectConforms(families, row, DEFAULT_LABELS);
    }
  });
});
