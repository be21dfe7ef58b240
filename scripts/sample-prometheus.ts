/**
 * `npm run sample:prometheus`: the sample app and a real Prometheus scraping it every second, with
 * the alert rules of monitoring/alerts.yml, for a person to look at. Prints the URLs; Ctrl-C stops both.
 *
 * Environment: PORT (the app's port, default 3000), PROMETHEUS_PORT (default 9090), SAMPLE_ADAPTER
 * (express or fastify), TRAFFIC=0 to start without the built-in traffic (a round of requests every
 * 2 seconds, through every endpoint, so that every graph and alert has something to show).
 */
import { startSampleStack } from './sample-stack';

async function main(): Promise<void> {
  const stack = await startSampleStack({
    appPort: Number(process.env.PORT ?? 3000) || undefined, // PORT=0: any free port
    prometheusPort: Number(process.env.PROMETHEUS_PORT ?? 9090) || undefined,
    adapter: process.env.SAMPLE_ADAPTER ?? 'express',
    trafficEveryMs: process.env.TRAFFIC === '0' ? 0 : 2000,
  });
  const graph = (expr: string): string =>
    `${stack.prometheus.url}/graph?g0.expr=${encodeURIComponent(expr)}&g0.tab=0&g0.range_input=15m`;
  process.stdout.write(
    [
      '',
      `Veza sample app   ${stack.appUrl}        (metrics: ${stack.appUrl}/metrics)`,
      `Prometheus        ${stack.prometheus.url}        (scraping the app every second, with monitoring/alerts.yml)`,
      '',
      `  requests/s by endpoint  ${graph('sum by (endpoint) (rate(veza_http_requests_total[1m]))')}`,
      `  p95 latency             ${graph('histogram_quantile(0.95, sum by (le) (rate(veza_http_request_duration_seconds_bucket[1m])))')}`,
      `  targets                 ${stack.prometheus.url}/targets`,
      `  alerts                  ${stack.prometheus.url}/alerts`,
      '',
      process.env.TRAFFIC === '0'
        ? 'No built-in traffic (TRAFFIC=0).'
        : 'Driving traffic through every endpoint every 2 s (TRAFFIC=0 to stop that).',
      'Grafana: import monitoring/grafana-dashboard.json with this Prometheus as its data source.',
      'Ctrl-C stops both.',
      '',
    ].join('\n'),
  );

  let stopping = false;
  const shutdown = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`\n${signal}: stopping the sample app and Prometheus…\n`);
    stack.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        console.error(error);
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => shutdown('SIGINT'));
  process.on('SIGTERM', () => shutdown('SIGTERM'));
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
