import * as PI from '@prometheus-io/client';
import * as PC from 'prom-client';
import { versionForMessages } from '../../src/compat/installed-version';
import { metricFields, replaceRecordingMethods, routeChild } from '../../src/compat/metrics-client';

/*
 * Contract test of C1 and C2 (src/compat/metrics-client.ts), on both clients: what the library reads
 * and replaces on a metric object of either. A failure names the assumption and the installed version.
 */
type Classes = Pick<typeof PC, 'Counter' | 'Gauge' | 'Histogram' | 'Summary'>;
const CLIENTS: ReadonlyArray<[string, Classes]> = [
  ['prom-client', PC],
  ['@prometheus-io/client', PI as unknown as Classes],
];

function holds(client: string, assumption: string, ok: boolean, detail: string): void {
  if (!ok)
    throw new Error(
      `${client} ${versionForMessages(client)} no longer meets ${assumption} of src/compat/metrics-client.ts: ${detail}`,
    );
}

describe.each(CLIENTS)('src/compat/metrics-client.ts: what we assume of %s metrics', (client, C) => {
  it('C1: name, help, type, labelNames, upperBounds, percentiles and enableExemplars are own fields', () => {
    const made = [
      new C.Counter({ name: 'c_total', help: 'a counter', labelNames: ['b', 'a'], registers: [] }),
      new C.Gauge({ name: 'g', help: 'a gauge', labelNames: ['a'], registers: [] }),
      new C.Histogram({
        name: 'h',
        help: 'a histogram',
        labelNames: ['a'],
        buckets: [0.5, 2],
        registers: [],
        enableExemplars: true,
      }),
      new C.Summary({ name: 's', help: 'a summary', percentiles: [0.5, 0.9], registers: [] }),
    ];
    const read = made.map((m) => metricFields(m));
    const expected = [
      { name: 'c_total', type: 'counter', help: 'a counter', labelNames: ['b', 'a'], exemplars: false },
      { name: 'g', type: 'gauge', help: 'a gauge', labelNames: ['a'], exemplars: false },
      {
        name: 'h',
        type: 'histogram',
        help: 'a histogram',
        labelNames: ['a'],
        buckets: [0.5, 2],
        exemplars: true,
      },
      {
        name: 's',
        type: 'summary',
        help: 'a summary',
        labelNames: [],
        quantiles: [0.5, 0.9],
        exemplars: false,
      },
    ];
    holds(client, 'C1', JSON.stringify(read) === JSON.stringify(expected), `read ${JSON.stringify(read)}`);
  });

  it('C2: children of labels() and timers record through the methods set on the metric', () => {
    const calls: string[] = [];
    const counter = new C.Counter({ name: 'c_total', help: 'c', labelNames: ['a'], registers: [] });
    const gauge = new C.Gauge({ name: 'g', help: 'g', labelNames: ['a'], registers: [] });
    const histogram = new C.Histogram({
      name: 'h',
      help: 'h',
      labelNames: ['a'],
      buckets: [1],
      registers: [],
    });
    for (const metric of [counter, gauge, histogram]) {
      replaceRecordingMethods(metric, {
        valued:
          (original) =>
          (...args) => {
            calls.push(`${metricFields(metric).type}.valued`);
            return original.apply(metric, args);
          },
        labelled:
          (original, role) =>
          (...args) => {
            calls.push(`${metricFields(metric).type}.${role}`);
            return original.apply(metric, args);
          },
        startTimer: (record) => () => () => {
          calls.push(`${metricFields(metric).type}.startTimer`);
          return record.call(metric, { a: 't' }, 1);
        },
        reset: (original) => () => {
          calls.push(`${metricFields(metric).type}.reset`);
          return original.call(metric);
        },
      });
    }
    counter.labels('x').inc();
    gauge.labels('x').set(2);
    gauge.labels('x').setToCurrentTime(); // which sets through the metric's set
    histogram.labels('x').observe(0.5); // the exception: straight to the series
    routeChild(histogram, histogram.labels('x'), { a: 'x' }).observe(0.5); // through the metric's
    histogram.labels({ a: 'y' }).startTimer()();
    gauge.startTimer()();
    histogram.startTimer()();
    histogram.remove('x');
    counter.reset();
    holds(
      client,
      'C2',
      JSON.stringify(calls) ===
        JSON.stringify([
          'counter.child',
          'counter.valued',
          'gauge.child',
          'gauge.valued',
          'gauge.child',
          'gauge.record',
          'gauge.valued',
          'histogram.child',
          'histogram.child',
          'histogram.valued',
          'histogram.child',
          'histogram.valued',
          'gauge.startTimer',
          'gauge.valued',
          'histogram.startTimer',
          'histogram.valued',
          'histogram.release',
          'counter.reset',
        ]),
      `calls seen: ${calls.join(', ')}`,
    );
  });
});
