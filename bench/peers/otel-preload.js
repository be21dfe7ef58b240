'use strict';
/**
 * The OpenTelemetry variant of `npm run bench:peers`, loaded with `-r` before Nest: what nestjs-otel 8
 * tells users to do for HTTP metrics now, the Node SDK with the HTTP instrumentation and the
 * Prometheus exporter (its own server, on BENCH_OTEL_PORT), started before the application is
 * created. Metrics only: traces and logs are set to `none` (unless the environment says otherwise), so
 * that the SDK exports no spans to a collector that is not there.
 */
process.env.OTEL_TRACES_EXPORTER ??= 'none';
process.env.OTEL_LOGS_EXPORTER ??= 'none';
process.env.OTEL_METRICS_EXPORTER ??= 'none';
const { NodeSDK } = require('@opentelemetry/sdk-node');
const { HttpInstrumentation } = require('@opentelemetry/instrumentation-http');
const { PrometheusExporter } = require('@opentelemetry/exporter-prometheus');

const sdk = new NodeSDK({
  metricReader: new PrometheusExporter({ port: Number(process.env.BENCH_OTEL_PORT), host: '127.0.0.1' }),
  instrumentations: [new HttpInstrumentation()],
});
sdk.start();
