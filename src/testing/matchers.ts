import { testingNoExpect } from '../veza-metrics.messages';
import {
  findMetric,
  getMetricValue,
  metricsOf,
  metricType,
  type MetricLabels,
  type MetricsHost,
  type MetricValueOptions,
} from './metric-value';

/** What a matcher answers to jest's `expect`. */
export interface MetricsMatcherResult {
  /** Whether the metric has the expected value. */
  pass: boolean;
  /** What the test runner prints when the assertion fails. */
  message(): string;
}

/** Anything with jest's (or Vitest's) `expect.extend`. */
export interface ExpectWithExtend {
  /** Adds matchers to `expect`. */
  extend(matchers: Record<string, (this: unknown, received: unknown, ...args: never[]) => unknown>): void;
}

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace jest {
    interface Matchers<R> {
      /**
       * Asserts one number of a metric of the application (see `getMetricValue`). Asynchronous:
       * `await expect(app).toHaveMetricValue(...)`. A counter or histogram without a matching
       * series counts as 0; a gauge without one matches no number.
       */
      toHaveMetricValue(name: string, expected: number): Promise<R>;
      toHaveMetricValue(
        name: string,
        labels: MetricLabels,
        expected: number,
        options?: MetricValueOptions,
      ): Promise<R>;
    }
  }
}

function describeSeries(name: string, labels: MetricLabels, options: MetricValueOptions): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}=${JSON.stringify(String(v))}`);
  const selector = Object.entries(options)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${JSON.stringify(v)}`);
  return `${name}${pairs.length > 0 ? `{${pairs.join(',')}}` : ''}${selector.length > 0 ? ` (${selector.join(', ')})` : ''}`;
}

/**
 * `toHaveMetricValue(app, name, [labels,] expected, [options])`: compares
 * {@link getMetricValue} with `expected`. Exposed for test runners whose matchers are registered
 * differently; jest users call {@link setupMetricsMatchers} instead.
 */
export async function toHaveMetricValue(
  this: { isNot?: boolean } | undefined,
  received: unknown,
  name: string,
  labelsOrExpected: MetricLabels | number,
  expectedOrUndefined?: number,
  options: MetricValueOptions = {},
): Promise<MetricsMatcherResult> {
  const labels = typeof labelsOrExpected === 'number' ? {} : labelsOrExpected;
  const expected = typeof labelsOrExpected === 'number' ? labelsOrExpected : expectedOrUndefined;
  const app = received as MetricsHost;
  const metric = findMetric(metricsOf(app, 'toHaveMetricValue'), name, 'toHaveMetricValue');
  const value = await getMetricValue(app, name, labels, options);
  const type = metricType(metric);
  const countsFromZero = type === 'counter' || (type === 'histogram' && options.quantile === undefined);
  const actual = value === undefined && countsFromZero ? 0 : value;
  const pass = actual === expected;
  const series = describeSeries(name, labels, options);
  const got = value === undefined ? (countsFromZero ? '0 (no series yet)' : 'no series') : String(value);
  return {
    pass,
    message: () =>
      pass
        ? `expected ${series} not to be ${String(expected)}, but it is`
        : `expected ${series} to be ${String(expected)}, got ${got}`,
  };
}

/**
 * Registers the metric matchers on jest's `expect` (or the `expect` given): call it once, e.g. in
 * a `setupFilesAfterEnv` file or at the top of a spec. jest stays optional: nothing of it is
 * loaded by this package.
 *
 * @example
 * ```ts
 * import { setupMetricsMatchers } from '@veza/nestjs-metrics/testing';
 * setupMetricsMatchers();
 *
 * await expect(app).toHaveMetricValue(VezaMetric.LoginAttempts, { success: 'failure' }, 1);
 * await expect(app).toHaveMetricValue(VezaMetric.TracksUploaded, 3);
 * ```
 */
export function setupMetricsMatchers(expectLike?: ExpectWithExtend): void {
  const target = expectLike ?? (globalThis as { expect?: ExpectWithExtend }).expect;
  if (!target || typeof target.extend !== 'function') throw new Error(testingNoExpect());
  target.extend({ toHaveMetricValue: toHaveMetricValue as never });
}
