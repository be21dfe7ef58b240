import type { MetricJson } from '../../src/cluster/cluster-protocol';
import { MAX_RETIRED_SAMPLES, RetiredSeries } from '../../src/cluster/retired-series';

/** An exited worker's last answer: `/ping` requests, and a histogram's `_count`, per route in `routes`. */
function answer(requests: number, routes: readonly string[] = ['/ping']): MetricJson[] {
  return [
    {
      name: 'veza_http_requests_total',
      help: 'Total number of HTTP requests',
      type: 'counter',
      aggregator: 'sum',
      values: routes.map((endpoint) => ({
        value: requests,
        labels: { method: 'GET', endpoint, status: '2xx' },
      })),
    },
    {
      name: 'veza_http_request_duration_seconds',
      help: 'HTTP request duration in seconds',
      type: 'histogram',
      aggregator: 'sum',
      values: routes.map((endpoint) => ({
        value: requests,
        labels: { method: 'GET', endpoint },
        metricName: 'veza_http_request_duration_seconds_count',
      })),
    },
  ];
}

const valuesOf = (retired: RetiredSeries, name: string): number[] =>
  retired
    .toJson()
    .find((m) => m.name === name)
    ?.values.map((v) => v.value) ?? [];

describe('RetiredSeries: what the cluster primary keeps of exited workers', () => {
  it('sums each exited worker once, series by series, whatever the order of the labels', () => {
    const retired = new RetiredSeries();
    retired.add(answer(925));
    const reordered = answer(305);
    reordered[0].values[0].labels = { status: '2xx', endpoint: '/ping', method: 'GET' };
    retired.add(reordered);
    expect(valuesOf(retired, 'veza_http_requests_total')).toEqual([1_230]);
    expect(valuesOf(retired, 'veza_http_request_duration_seconds')).toEqual([1_230]);
    expect(retired.size).toBe(2);
  });

  it('keeps label values apart that a separator would confuse', () => {
    const retired = new RetiredSeries();
    retired.add(answer(1, ['/a",endpoint="b', '/a', '"b']));
    expect(retired.size).toBe(6);
  });

  it('does not grow when worker after worker with the same series exits', () => {
    const retired = new RetiredSeries();
    for (let i = 0; i < 1_000; i++) retired.add(answer(10, ['/ping', '/tracks/:id']));
    expect(retired.size).toBe(4);
    expect(valuesOf(retired, 'veza_http_requests_total')).toEqual([10_000, 10_000]);
  });

  it(`holds at most its cap (${MAX_RETIRED_SAMPLES} samples by default); past it, new series are dropped and the kept ones stay exact`, () => {
    const retired = new RetiredSeries(5);
    expect(retired.add(answer(1, ['/a', '/b']))).toBe(0);
    // A worker with per-process label values: 3 new series of each metric, one of which fits.
    expect(retired.add(answer(2, ['/a', '/c', '/d', '/e']))).toBe(5);
    expect(retired.size).toBe(5);
    expect(valuesOf(retired, 'veza_http_requests_total')).toEqual([3, 1, 2]);
    expect(valuesOf(retired, 'veza_http_request_duration_seconds')).toEqual([3, 1]);
    expect(
      new RetiredSeries().add(
        answer(
          1,
          Array.from({ length: MAX_RETIRED_SAMPLES }, (_, i) => `/r${i}`),
        ),
      ),
    ).toBe(MAX_RETIRED_SAMPLES);
  });

  it('reads a value that is not a finite number as 0, so a sum stays a number', () => {
    const retired = new RetiredSeries();
    const odd = answer(5);
    odd[0].values[0].value = null as unknown as number;
    retired.add(odd);
    retired.add(answer(5));
    expect(valuesOf(retired, 'veza_http_requests_total')).toEqual([5]);
  });
});
