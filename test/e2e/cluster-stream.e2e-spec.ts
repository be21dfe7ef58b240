import { rmSync } from 'node:fs';
import * as path from 'node:path';
import { compileLibrary, get, FixturePrimary } from '../utils/cluster-fixture';
import { parseExposition, sampleValue, type Sample } from '../utils/exposition';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/cluster/cluster-app.js');
const TOKEN = 'cluster-stream-s3cret';
const AUTH = { authorization: `Bearer ${TOKEN}` };
/** The module's default series cap, and a hundred label sets past it. */
const CAP = 2_000;
const FILLED = CAP + 100;
/** The most characters (of its JSON) one of a worker's messages to the primary may hold. */
const MESSAGE_BOUND = 512 * 1024;

interface TraceEntry {
  type: string;
  chars: number;
}
interface FixtureMessage {
  fixture: string;
  metricsUrl?: string;
  patientUrl?: string;
  appUrl?: string;
  workers?: { id: number; pid: number }[];
  worker?: number;
  log?: (TraceEntry | 'tick')[];
}

/** The samples of `family` by sample name and labels. */
function samplesOf(text: string, family: string): Map<string, number> {
  const samples: Sample[] = parseExposition(text).get(family)?.samples ?? [];
  return new Map(samples.map((s) => [`${s.name}${JSON.stringify(s.labels)}`, s.value]));
}

/**
 * Issue #21, item 2: at the series caps, a worker answers the primary's scrape in slices (several
 * IPC messages, each under a bound, its event loop free in between), and the primary merges the
 * slices exactly.
 */
describe('Node cluster at the series caps: a worker answers the primary in slices', () => {
  const out = path.join(ROOT, '.tmp', `cluster-stream-lib-${process.pid}`);
  let primary: FixturePrimary<FixtureMessage> | undefined;
  let ready: FixtureMessage;
  const next = (match: (m: FixtureMessage) => boolean, timeoutMs: number): Promise<FixtureMessage> =>
    (primary as FixturePrimary<FixtureMessage>).next(match, timeoutMs);

  async function scrape(url: string, headers: Record<string, string> = AUTH): Promise<string> {
    const { status, body } = await get(url, undefined, headers);
    if (status !== 200) throw new Error(`GET ${url} answered ${status}: ${body.slice(0, 200)}`);
    return body;
  }

  beforeAll(async () => {
    primary = new FixturePrimary<FixtureMessage>(FIXTURE, {
      VEZA_METRICS_LIB: compileLibrary(out),
      WORKERS: '2',
      TIMEOUT_MS: '60000',
      TOKEN,
    });
    ready = await next((m) => m.fixture === 'ready', 60_000);
    for (const { id } of ready.workers ?? []) {
      primary?.send({ cmd: 'fill', worker: id, count: FILLED });
      await next((m) => m.fixture === 'filled' && m.worker === id, 60_000);
    }
  }, 120_000);

  afterAll(async () => {
    await primary?.stop();
    rmSync(out, { recursive: true, force: true });
  }, 15_000);

  it('sends its part as many messages, each under the bound, its timers running between them', async () => {
    const worker = (ready.workers ?? [])[0].id;
    primary?.send({ cmd: 'trace', worker });
    const text = await scrape(ready.patientUrl as string);
    expect(text).toContain('veza_errors_total{');
    const { log = [] } = await next((m) => m.fixture === 'traced' && m.worker === worker, 60_000);
    const messages = log.filter((e): e is TraceEntry => e !== 'tick');
    // Its whole answer: many parts, then their end.
    expect(messages.at(-1)?.type).toBe('veza-metrics:collected');
    expect(messages.slice(0, -1).every((m) => m.type === 'veza-metrics:part')).toBe(true);
    const sent = messages.reduce((sum, m) => sum + m.chars, 0);
    // Series, not samples: each series' labels once, a histogram's buckets as numbers (the primary
    // expands them). The whole catalog at its caps: some 1.5 MiB of JSON (as samples: over 6 MiB).
    expect(sent).toBeGreaterThan(2 ** 20);
    expect(sent).toBeLessThan(3 * 2 ** 20);
    expect(messages.length).toBeGreaterThan(sent / MESSAGE_BOUND);
    for (const m of messages) expect(m.chars).toBeLessThanOrEqual(MESSAGE_BOUND);
    // A timer of the worker, due from the request on, ran between its messages, not only after them.
    const first = log.findIndex((e) => e !== 'tick');
    const last = log.length - 1;
    const ticksBetween = log.slice(first, last).filter((e) => e === 'tick').length;
    expect(ticksBetween).toBeGreaterThan(0);
  }, 120_000);

  it("merges the slices exactly: every filled series is the two workers' sum (the health status their worst)", async () => {
    const merged = await scrape(ready.metricsUrl as string);
    // A worker's own /metrics (either: both hold the same filled series).
    const own = await scrape(`${ready.appUrl}/metrics`, {});
    const families = [...parseExposition(own).values()].filter(
      (f) =>
        !f.name.startsWith('veza_http_') &&
        !f.name.startsWith('veza_metrics_') &&
        f.samples.some((s) => Object.values(s.labels).some((v) => /-1\d{3}$/.test(v))),
    );
    expect(families.length).toBeGreaterThan(5);
    expect(families.map((f) => f.type)).toEqual(expect.arrayContaining(['counter', 'gauge', 'histogram']));
    const wrong: string[] = [];
    let compared = 0;
    for (const family of families) {
      const ours = samplesOf(own, family.name);
      const sum = samplesOf(merged, family.name);
      if (sum.size !== ours.size) wrong.push(`${family.name}: ${sum.size} samples, not ${ours.size}`);
      const factor = family.name === 'veza_health_check_status' ? 1 : 2;
      for (const [key, value] of ours) {
        // The one series the workers hold apart (worker 1's check failed): which worker served
        // `own` is the shared port's choice, so it is checked on its own below.
        if (key === 'veza_health_check_status{"service":"db"}') continue;
        compared++;
        if (sum.get(key) !== value * factor) wrong.push(`${key} ${sum.get(key)}, not ${value * factor}`);
      }
    }
    expect(wrong.slice(0, 5)).toEqual([]);
    expect(compared).toBeGreaterThan(50_000);
    expect(sampleValue(merged, 'veza_health_check_status', { service: 'db' })).toBe(0);
    const up = parseExposition(merged)
      .get('veza_metrics_cluster_worker_up')
      ?.samples.map((s) => s.value);
    expect(up).toEqual([1, 1]);
    expect(merged).toContain('veza_metrics_cluster_worker_errors_total 0');
  }, 120_000);
});
