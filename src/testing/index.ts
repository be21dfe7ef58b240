/**
 * `@veza/nestjs-metrics/testing`: assert an application's metrics in its own tests, straight from
 * its registry (no exposition to parse). Loads nothing of jest.
 *
 * @example
 * ```ts
 * import { getMetricValue, resetMetrics } from '@veza/nestjs-metrics/testing';
 *
 * beforeEach(() => resetMetrics(app));
 * it('counts a failed login', async () => {
 *   await request(app.getHttpServer()).post('/auth/login').send({ email, password: 'wrong' });
 *   expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'failure' })).toBe(1);
 * });
 * ```
 */
export { getMetricValue } from './metric-value';
export type { MetricsHost, MetricLabels, MetricValueOptions, VezaMetricLabels } from './metric-value';
export { resetMetrics } from './reset-metrics';
export { setupMetricsMatchers, toHaveMetricValue } from './matchers';
export type { ExpectWithExtend, MetricsMatcherResult } from './matchers';
