import * as PI from '@prometheus-io/client';
import * as PC from 'prom-client';
import type { AnyMetric, HistogramMetric } from '../../src/compat/client-types';
import { layoutOf } from '../../src/compat/metrics-client';
import type { SeriesEntry } from '../../src/compat/series-storage';
import { HistogramCell } from '../../src/http/metric-cells';
import { histogramCell } from '../../src/instrumentation/cells';
import {
  NativeHistogram,
  nativeSnapshotOf,
  resolveNativeConfig,
  setNativeConfig,
  type NativeHistogramConfig,
} from '../../src/native/native-histogram';
import { guardMetric, type SeriesGuardHooks } from '../../src/registry/series-guard';

/*
 * Every path that observes into a histogram with a native part files it there exactly once, with the
 * value the classic part got, on both clients: the guarded `observe` (labels, none, exemplars), the
 * children of `labels()`, timers' ends, the seams' slots and the cells built on them.
 */
type Classes = Pick<typeof PC, 'Histogram'>;
const CLIENTS: ReadonlyArray<[string, Classes]> = [
  ['prom-client', PC],
  ['@prometheus-io/client', PI as unknown as Classes],
];
const BUCKETS = [0.001, 0.01, 0.1, 1, 10];
const VALUES = [0, 1e-9, 0.001, 0.0042, 0.5, 1, 1, 3.7, 12, 1e6, -2, -0];

type H = HistogramMetric<string> & AnyMetric;

describe.each(CLIENTS)('native part of histograms on %s: every observe path', (_client, C) => {
  let errors: unknown[];
  let overflows: number;
  const hooks: SeriesGuardHooks = {
    onOverflow: () => void overflows++,
    onError: (_m, e) => void errors.push(e),
  };
  beforeEach(() => {
    errors = [];
    overflows = 0;
  });

  function histogram(
    opts: { labelNames?: string[]; exemplars?: boolean; cap?: number; buckets?: number[] } = {},
    config: NativeHistogramConfig = resolveNativeConfig(),
  ): H {
    const h = new C.Histogram({
      name: 'h_seconds',
      help: 'h',
      labelNames: opts.labelNames ?? ['route'],
      buckets: opts.buckets ?? BUCKETS,
      registers: [],
      ...(opts.exemplars ? { enableExemplars: true } : {}),
    }) as unknown as H;
    setNativeConfig(h, config);
    guardMetric(h, opts.cap ?? 100, hooks);
    return h;
  }

  const entryOf = (h: H, labels: Record<string, string> = { route: 'a' }): SeriesEntry =>
    layoutOf(h)!.entryOf(h, labels)!;

  /** The native part of `entry` is exactly a fresh native histogram fed `values`, and holds the classic count. */
  function expectNative(h: H, entry: SeriesEntry, values: readonly number[], config = resolveNativeConfig()) {
    const fresh = new NativeHistogram(config, undefined);
    for (const v of values) fresh.observe(v);
    expect(nativeSnapshotOf(h, entry)).toEqual(fresh.snapshot());
    expect(entry.count).toBe(values.length);
  }

  it('the guarded observe(labels, v) and observe(v)', () => {
    const h = histogram();
    for (const v of VALUES) h.observe({ route: 'a' }, v);
    expectNative(h, entryOf(h), VALUES);
    const u = histogram({ labelNames: [] });
    for (const v of VALUES) (u as unknown as { observe(v: number): void }).observe(v);
    expectNative(u, entryOf(u, {}), VALUES);
    expect(errors).toEqual([]);
  });

  it('exemplars on: observe({ labels, value, exemplarLabels }) and the classic forms', () => {
    const h = histogram({ exemplars: true });
    const observe = h.observe as unknown as (...args: unknown[]) => void;
    observe({ labels: { route: 'a' }, value: 0.5, exemplarLabels: { trace_id: 'abc' } });
    observe({ route: 'a' }, 2);
    observe({ labels: { route: 'a' }, value: 7 });
    expectNative(h, entryOf(h), [0.5, 2, 7]);
    const u = histogram({ labelNames: [], exemplars: true });
    (u.observe as unknown as (v: number) => void)(3);
    expectNative(u, entryOf(u, {}), [3]);
    expect(errors).toEqual([]);
  });

  it('children of labels(), by name and by position', () => {
    const h = histogram();
    const child = h.labels({ route: 'a' });
    for (const v of VALUES) child.observe(v);
    const positional = (h.labels as unknown as (...v: string[]) => { observe(v: number): void })('a');
    positional.observe(4);
    expectNative(h, entryOf(h), [...VALUES, 4]);
  });

  it('timers: startTimer(labels) ends, a child timer, end(labels), and ends in any order', () => {
    const h = histogram();
    const child = h.labels({ route: 'a' }) as unknown as { startTimer(): () => number };
    const ends = [h.startTimer({ route: 'a' }), child.startTimer(), h.startTimer()];
    // Ended out of order, the last with its labels at the end.
    ends[1]();
    ends[0]();
    (ends[2] as (l: Record<string, string>) => number)({ route: 'a' });
    const entry = entryOf(h);
    expect(entry.count).toBe(3);
    const snapshot = nativeSnapshotOf(h, entry)!;
    const total =
      snapshot.zeroCount +
      snapshot.positiveDeltas.reduce<[number, number]>(([sum, c], d) => [sum + c + d, c + d], [0, 0])[0];
    expect(total).toBe(3);
    // One timer: the native part holds exactly the seconds the classic part got.
    const one = histogram();
    one.startTimer({ route: 'a' })();
    expectNative(one, entryOf(one), [entryOf(one).sum!]);
  });

  it("the seam's slot and the cells built on it (HTTP recorder, decorators)", () => {
    const h = histogram();
    h.observe({ route: 'a' }, 1);
    const slot = layoutOf(h)!.histogramSlot(h, { route: 'a' })!;
    for (const v of VALUES) expect(slot.observe(v)).toBe(true);
    expectNative(h, entryOf(h), [1, ...VALUES]);

    const http = histogram();
    const cell = new HistogramCell(http, { route: 'a' });
    for (const v of VALUES) cell.observe(v);
    expectNative(http, entryOf(http), VALUES);

    const decorator = histogram();
    const decoratorCell = histogramCell(decorator, { route: 'a' });
    for (const v of VALUES) decoratorCell.observe(v);
    expectNative(decorator, entryOf(decorator), VALUES);
  });

  it('values the guard refuses (NaN, ±Infinity, not a number) file nothing in either part', () => {
    const h = histogram();
    const cell = histogramCell(h, { route: 'a' });
    cell.observe(1);
    for (const v of [NaN, Infinity, -Infinity]) {
      h.observe({ route: 'a' }, v);
      cell.observe(v);
      h.labels({ route: 'a' }).observe(v);
    }
    (h.observe as unknown as (l: object, v: unknown) => void)({ route: 'a' }, '5');
    expect(errors).toHaveLength(10);
    expectNative(h, entryOf(h), [1]);
  });

  it('reset(), remove() and zero() leave both parts consistent, slots and cells included', () => {
    const h = histogram();
    const cell = histogramCell(h, { route: 'a' });
    cell.observe(1);
    cell.observe(2);
    h.reset();
    cell.observe(3);
    expectNative(h, entryOf(h), [3]);
    h.remove({ route: 'a' });
    expect(entryOf(h, { route: 'a' })).toBeUndefined();
    cell.observe(4);
    expectNative(h, entryOf(h), [4]);
    h.zero({ route: 'a' });
    expectNative(h, entryOf(h), []);
    cell.observe(5);
    h.observe({ route: 'a' }, 6);
    expectNative(h, entryOf(h), [5, 6]);
  });

  it('the overflow series past the cap files natively too', () => {
    const h = histogram({ cap: 2 });
    for (let i = 0; i < 8; i++) h.observe({ route: `r${i}` }, i + 0.5);
    expect(overflows).toBe(6);
    expectNative(h, entryOf(h, { route: 'r0' }), [0.5]);
    expectNative(h, entryOf(h, { route: '__overflow__' }), [2.5, 3.5, 4.5, 5.5, 6.5, 7.5]);
  });

  it('a reset of the native part (minResetInterval) leaves the classic part as a fresh series of that value', () => {
    const config = resolveNativeConfig({ maxBuckets: 2, minResetInterval: 1_000 });
    const now = jest.spyOn(Date, 'now').mockReturnValue(10_000);
    try {
      const h = histogram({}, config);
      const cell = histogramCell(h, { route: 'a' });
      for (const v of [0.005, 0.005]) cell.observe(v);
      now.mockReturnValue(20_000);
      cell.observe(500); // through the slot: budget spent, interval passed
      const fresh = histogram({}, config);
      fresh.observe({ route: 'a' }, 500);
      const entry = entryOf(h);
      expect({ ...entry }).toEqual({ ...entryOf(fresh) });
      expectNative(h, entry, [500], config);
      // Through the guard.
      h.observe({ route: 'a' }, 0.001);
      now.mockReturnValue(40_000);
      h.observe({ route: 'a' }, 1e-6);
      expect(entry.count).toBe(1);
      expect(entry.sum).toBe(1e-6);
      expect(entry.bucketValues!['0.001']).toBe(1);
      expectNative(h, entry, [1e-6], config);
    } finally {
      now.mockRestore();
    }
  });

  it('an observation by a path that does not file natively leaves the series classic only, never two counts', () => {
    const h = new C.Histogram({
      name: 'h_seconds',
      help: 'h',
      labelNames: ['route'],
      buckets: BUCKETS,
      registers: [],
    }) as unknown as H;
    // A child kept from before the guard was installed.
    const early = h.labels({ route: 'a' });
    setNativeConfig(h, resolveNativeConfig());
    guardMetric(h, 100, hooks);
    h.observe({ route: 'a' }, 1);
    expectNative(h, entryOf(h), [1]);
    early.observe(2);
    expect(entryOf(h).count).toBe(2);
    expect(nativeSnapshotOf(h, entryOf(h))).toBeUndefined();
  });
});
