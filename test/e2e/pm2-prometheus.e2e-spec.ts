/**
 * pm2's cluster mode seen by a real Prometheus (issue #25's acceptance): the real pm2 (under a
 * PM2_HOME of its own: test/utils/pm2.ts) runs test/fixtures/pm2/pm2-app.js with 4 instances on one
 * port, each a Nest app with VezaMetricsModule's `pm2` option; Prometheus scrapes that port every
 * second (each scrape on a new connection: pm2's daemon hands them to the instances in turn) while
 * 2 lanes of GET /hit load it, through a `pm2 reload` (a rolling restart of all 4) and a kill -9.
 * Afterwards Prometheus' raw samples never go down, `resets()` is 0 for every series, and its
 * total after a final scrape is exactly the number of requests answered.
 *
 * test/e2e/pm2.e2e-spec.ts checks the exposition itself, instance by instance.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { compileLibrary } from '../utils/cluster-fixture';
import { findPm2, Pm2 } from '../utils/pm2';
import { get, Pm2Fixture, type Announced } from '../utils/pm2-fixture';
import { startPrometheus, type PrometheusServer } from '../utils/prometheus';
import { findTool } from '../utils/tools';
import { until } from '../utils/until';

const pm2Cli = findPm2();
const prometheusBinary = findTool('prometheus');
const describeWithBoth = pm2Cli && prometheusBinary ? describe : describe.skip;

const ROOT = path.resolve(__dirname, '../..');
const TOKEN = 'pm2-s3cret';
const HITS = 'sum(veza_http_requests_total{endpoint="/hit"}) or vector(0)';

describeWithBoth('pm2 cluster mode under load, scraped by Prometheus every second', () => {
  const out = path.join(ROOT, '.tmp', `pm2-prometheus-lib-${process.pid}`);
  const temp = mkdtempSync(path.join(tmpdir(), 'veza-pm2-prom-'));
  let pm2: Pm2;
  let app: Pm2Fixture;
  let prometheus: PrometheusServer | undefined;

  beforeAll(async () => {
    pm2 = new Pm2(pm2Cli);
    app = await Pm2Fixture.start(pm2, {
      name: 'veza-pm2-prometheus',
      instances: 4,
      lib: compileLibrary(out),
      dir: temp,
      token: TOKEN,
      // Generous, so that a healthy instance on a loaded machine is never taken for a hung one.
      timeoutMs: 5_000,
    });
    prometheus = await startPrometheus({
      targets: [new URL(app.appUrl).host],
      bearerToken: TOKEN,
      binary: prometheusBinary,
    });
  }, 180_000);

  afterAll(async () => {
    await prometheus?.stop();
    await pm2?.kill();
    rmSync(out, { recursive: true, force: true });
    rmSync(temp, { recursive: true, force: true });
  }, 60_000);

  /** Set by the first test: when the load began, the instances at the end, the requests not answered. */
  let start = 0;
  let instances: Announced[] = [];
  const unanswered: string[] = [];

  it('through a pm2 reload and a kill -9 under load, Prometheus sees no reset, no sample going down', async () => {
    const prom = prometheus as PrometheusServer;
    instances = await app.live();
    start = Date.now();
    await prom.scrapedAfterNow(60_000);

    // The load: 2 lanes of GET /hit, each on a new connection, back to back until told to stop (with
    // a pause between requests, the few served while an instance shuts down were often none).
    let loading = true;
    const lane = async (): Promise<void> => {
      while (loading) {
        try {
          // The deadline guards against a hang, it bounds no speed: a connection that pm2's daemon
          // hands to an instance as it exits is never answered nor closed (Node's cluster round
          // robin drops it; seen for 0 to 3 requests of a reload under this load). Such a request
          // was never served: it is in no count, nor in `app.sent`.
          const { status } = await get(`${app.appUrl}/hit`, {}, 15_000);
          if (status === 200) app.sent++;
          else unanswered.push(`status ${status}`);
        } catch (error) {
          unanswered.push(String(error));
        }
      }
    };
    const load = Promise.all(Array.from({ length: 2 }, lane));
    try {
      const seen = await prom.value(HITS);
      // Prometheus sees the traffic grow before anything happens to the instances.
      await until(async () => (await prom.value(HITS)) > seen, 'Prometheus seeing the load', 60_000);

      // The rolling restart: each instance replaced by a new process, one after the other.
      await pm2.reload('veza-pm2-prometheus');
      instances = await app.live(instances.map((a) => a.pid));
      await prom.scrapedAfterNow(60_000);

      // kill -9 under load: instance 1 is first taken out of pm2's rotation (so that it serves
      // nothing after its last answer), answers a scrape (of instance 0, which asks every instance),
      // then is killed; pm2 starts a new one.
      const victim = instances[1];
      await app.drain(victim);
      await app.scrape(app.directUrl(instances[0]));
      pm2.kill9(victim.pid);
      instances = await app.live([victim.pid]);
      await prom.scrapedAfterNow(60_000);
    } finally {
      loading = false;
      await load;
    }
    // A scrape that follows the last request.
    await prom.scrapedAfterNow(60_000);

    await withLogs(prom, async () => {
      const range = `${Math.ceil((Date.now() - start) / 1000) + 60}s`;
      const resets = await prom.vector(`resets(veza_http_requests_total[${range}])`);
      expect(resets.length).toBeGreaterThan(0);
      expect(resets.filter((s) => s.value !== 0)).toEqual([]);
      const countResets = await prom.vector(`resets(veza_http_request_duration_seconds_count[${range}])`);
      expect(countResets.filter((s) => s.value !== 0)).toEqual([]);
      // The raw samples, series by series: never one below the one before it.
      const raw = await prom.query(`veza_http_requests_total{endpoint="/hit"}[${range}]`);
      expect(raw.status).toBe('success');
      const series = (raw.data?.result ?? []) as {
        metric: Record<string, string>;
        values: [number, string][];
      }[];
      expect(series.length).toBeGreaterThan(0);
      for (const s of series) {
        const values = s.values.map(([, v]) => Number(v));
        const drops = values.flatMap((v, i) => (i > 0 && v < values[i - 1] ? [[values[i - 1], v]] : []));
        expect({ series: s.metric, drops }).toEqual({ series: s.metric, drops: [] });
      }
    });
  }, 180_000);

  it('counts exactly the requests answered: Prometheus, and every instance, after the reload and the kill', async () => {
    const prom = prometheus as PrometheusServer;
    expect(start).toBeGreaterThan(0);
    await withLogs(prom, async () => {
      const reasons = [...new Set(unanswered)];
      const failed = unanswered.length;
      expect({ total: await prom.value(HITS), failed, reasons }).toEqual({
        total: app.sent,
        failed,
        reasons,
      });
      // The instances now: each answers for all, exactly; the 5 processes that exited left no file.
      await app.expectEachExact(instances);
      await app.expectOnlyFilesOf(instances);
    });
  }, 120_000);
});

/** Runs `check`, adding the tail of Prometheus' log to its failure. */
async function withLogs(prom: PrometheusServer, check: () => Promise<void>): Promise<void> {
  try {
    await check();
  } catch (error) {
    if (error instanceof Error) error.message += `\n${prom.logs().slice(-4096)}`;
    throw error;
  }
}
