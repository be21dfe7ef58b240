import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { Registry } from 'prom-client';
import { VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { resolveOptions } from '../../src/veza-metrics.options';
import { startupError } from '../utils/module';

/** A settings class, where the options take plain objects. */
class MetricsServerSettings {
  port = 9100;
}

describe('options', () => {
  it('fills in every default', () => {
    expect(resolveOptions(undefined)).toEqual({
      path: '/metrics',
      defaultMetrics: { enabled: true, prefix: '' },
      defaultLabels: {},
      registry: undefined,
      buckets: {},
      statusLabel: 'class',
      naming: 'seed',
      http: { enabled: true, exclude: [] },
      endpoint: {
        app: true,
        server: undefined,
        auth: undefined,
        scrape: {
          maxConcurrent: 2,
          timeoutMs: 10_000,
          collectTimeoutMs: 3_000,
          maxBytesInFlight: 32 * 2 ** 20,
          sendTimeoutMs: 10_000,
        },
      },
      cardinality: { maxSeries: 2000, perMetric: {} },
      exemplars: true,
      pushgateway: undefined,
      cluster: true,
      pm2: {
        enabled: true,
        timeoutMs: 2000,
        aggregators: { veza_health_check_status: 'min' },
        maxWorkerSamples: 250_000,
        directory: undefined,
      },
      rpc: { enabled: true },
      queues: { enabled: true },
      cache: { enabled: true },
      health: { enabled: true, slowMs: 500, maxServices: 100 },
      database: { enabled: true, typeorm: true, prisma: true, maxTables: 100 },
      graphql: { enabled: true, operations: true, resolvers: 'root-and-resolved', maxOperationNames: 100 },
      outbound: { enabled: true, hosts: {}, maxHosts: 100 },
    });
  });

  it('accepts every documented form', () => {
    const registry = new Registry();
    const resolved = resolveOptions({
      path: '/internal/metrics',
      defaultMetrics: { prefix: 'veza_' },
      defaultLabels: { service: 'veza-api', env: 'prod' },
      registry,
      buckets: { veza_http_request_duration_seconds: [0.01, 0.1, 1] },
      statusLabel: 'code',
      naming: 'strict',
      http: { exclude: ['/api/health'] },
    });
    expect(resolved).toMatchObject({
      path: '/internal/metrics',
      defaultMetrics: { enabled: true, prefix: 'veza_' },
      defaultLabels: { service: 'veza-api', env: 'prod' },
      buckets: { veza_http_request_duration_seconds: [0.01, 0.1, 1] },
      statusLabel: 'code',
      naming: 'strict',
      http: { enabled: true, exclude: ['/api/health'] },
    });
    expect(resolved.registry).toBe(registry);
    expect(resolveOptions({ defaultMetrics: false }).defaultMetrics).toEqual({ enabled: false, prefix: '' });
    expect(resolveOptions({ http: false }).http).toEqual({ enabled: false, exclude: [] });
  });

  it.each<[string, unknown, string]>([
    [
      'an unknown key',
      { pth: '/metrics' },
      'VezaMetricsModule: unknown option "pth"; expected one of path, defaultMetrics, defaultLabels, registry, buckets, statusLabel, naming, http, appEndpoint, metricsServer, auth, scrape, cardinality, exemplars, pushgateway, remoteWrite, cluster, pm2, graphql, rpc, queues, cache, health, outbound, database, nativeHistograms.',
    ],
    [
      'an empty path',
      { path: '' },
      'VezaMetricsModule: option "path" must be a non-empty absolute path such as "/metrics" (no spaces, query or fragment), got the string "".',
    ],
    [
      'a relative path',
      { path: 'metrics' },
      'VezaMetricsModule: option "path" must be a non-empty absolute path such as "/metrics" (no spaces, query or fragment), got the string "metrics".',
    ],
    [
      'unsorted buckets',
      { buckets: { veza_http_request_duration_seconds: [0.1, 0.01] } },
      'VezaMetricsModule: option "buckets.veza_http_request_duration_seconds" must be a non-empty array of finite numbers in strictly increasing order, got an array ([0.1,0.01]).',
    ],
    [
      'buckets of a metric that is not a catalog histogram',
      { buckets: { veza_http_requests_total: [1, 2] } },
      'VezaMetricsModule: unknown option "buckets.veza_http_requests_total"; expected one of veza_http_request_duration_seconds, veza_database_query_duration_seconds, veza_file_upload_size_bytes, veza_health_check_duration_ms, veza_commerce_checkout_duration_seconds.',
    ],
    [
      'a non-string default label',
      { defaultLabels: { service: 42 } },
      'VezaMetricsModule: option "defaultLabels.service" must be a string, got number 42.',
    ],
    [
      'an invalid default label name',
      { defaultLabels: { 'my-label': 'x' } },
      'VezaMetricsModule: option "defaultLabels" must have Prometheus label names as keys (letters, digits and _, not starting with a digit or __), got the key "my-label".',
    ],
    [
      'a wrong statusLabel',
      { statusLabel: 'full' },
      'VezaMetricsModule: option "statusLabel" must be "class" (2xx, 4xx, ...) or "code" (200, 404, ...), got the string "full".',
    ],
    [
      'a wrong naming',
      { naming: 'prometheus' },
      'VezaMetricsModule: option "naming" must be "seed" (the catalog\'s names) or "strict" (Prometheus\' naming rules), got the string "prometheus".',
    ],
    [
      "a registry that is no client's Registry",
      { registry: {} },
      'VezaMetricsModule: option "registry" must be a Registry of prom-client or of @prometheus-io/client (new Registry()), got an object ({}).',
    ],
    [
      'a default metrics prefix that is not a metric name',
      { defaultMetrics: { prefix: 'veza-' } },
      'VezaMetricsModule: option "defaultMetrics.prefix" must be a metric name prefix such as "veza_" (letters, digits, _ and :), got the string "veza-".',
    ],
    [
      'an unknown key of defaultMetrics',
      { defaultMetrics: { enable: true } },
      'VezaMetricsModule: unknown option "defaultMetrics.enable"; expected one of enabled, prefix.',
    ],
    [
      'a class instance where a plain object is expected',
      {
        metricsServer: new MetricsServerSettings(),
      },
      'VezaMetricsModule: option "metricsServer" must be { port, host? }, got an instance of MetricsServerSettings ({"port":9100}).',
    ],
  ])('rejects %s at start-up, naming the option', async (_case, options, message) => {
    expect(() => resolveOptions(options as VezaMetricsModuleOptions)).toThrow(message);
    await expect(startupError(options)).resolves.toBe(message);
  });

  it('rejects a wrong option coming from forRootAsync at start-up', async () => {
    @Module({})
    class ConfigHolder {}
    const compile = Test.createTestingModule({
      imports: [
        VezaMetricsModule.forRootAsync({
          imports: [ConfigHolder],
          useFactory: () => Promise.resolve({ path: '' }),
        }),
      ],
    }).compile();
    await expect(compile).rejects.toThrow(
      'VezaMetricsModule: option "path" must be a non-empty absolute path',
    );
  });
});
