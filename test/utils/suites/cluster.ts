import { Agent } from 'node:http';
import { rmSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { compileLibrary, get, FixturePrimary } from '../cluster-fixture';
import { parseExposition, sampleValue } from '../exposition';
import { expectLoopbackOnly } from '../raw-http';

const ROOT = path.resolve(__dirname, '../../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/cluster/cluster-app.js');
const WORKERS = 4;
const TIMEOUT_MS = 1_000;
const TOKEN = 'cluster-s3cret';
const AUTH = { authorization: `Bearer ${TOKEN}` };

interface FixtureMessage {
  fixture: 'ready' | 'blocking' | 'hanging' | 'exit' | 'forked';
  appUrl?: string;
  metricsUrl?: string;
  patientUrl?: string;
  workers?: { id: number; pid: number }[];
  worker?: number;
  pid?: number;
}

/** Sends `total` GET /ping over `concurrency` keep-alive connections; the pids that answered. */
async function load(appUrl: string, total: number, concurrency = 16): Promise<Set<string>> {
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
  const pids = new Set<string>();
  let sent = 0;
  let failed = 0;
  const lane = async (): Promise<void> => {
    while (sent < total) {
      sent++;
      const { status, body } = await get(`${appUrl}/ping`, agent);
      if (status === 200) pids.add(body);
      else failed++;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    agent.destroy();
  }
  if (failed > 0) throw new Error(`${failed} of ${total} requests failed`);
  return pids;
}

function total(text: string, name: string, labels: Record<string, string> = {}): number {
  const family = parseExposition(text).get(name);
  return (family?.samples ?? [])
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** `veza_metrics_cluster_worker_up` by slot. */
function up(text: string): Record<string, number> {
  const samples = parseExposition(text).get('veza_metrics_cluster_worker_up')?.samples ?? [];
  return Object.fromEntries(samples.map((s) => [s.labels.worker, s.value]));
}

export interface ClusterSizes {
  /** GET /ping sent before the first scrape, over 16 keep-alive connections. */
  requests: number;
}

/**
 * Four real worker processes aggregated by the primary (test/fixtures/cluster/cluster-app.js): exact
 * sums across scrapes, worker timeouts, hanging sources, deaths and replacements. `requests` sets the
 * size of the traffic (the first load; a tenth of it per round while scrapes run, and in the
 * replacement test).
 */
export function describeCluster({ requests: REQUESTS }: ClusterSizes): void {
  const fmt = (n: number): string => n.toLocaleString('en-US');
  describe('Node cluster: 4 real worker processes, aggregated by the primary', () => {
    const out = path.join(ROOT, '.tmp', `cluster-lib-${process.pid}`);
    let primary: FixturePrimary<FixtureMessage> | undefined;
    let appUrl = '';
    let metricsUrl = '';
    let patientUrl = '';
    let workers: { id: number; pid: number }[] = [];
    /** Every GET /ping the workers answered, whichever worker and whether it lives: what the sum must say. */
    let requests = 0;
    /** One `veza_users_registered_total` per worker ever started. */
    let started = 0;
    const next = (match: (m: FixtureMessage) => boolean, timeoutMs: number): Promise<FixtureMessage> =>
      (primary as FixturePrimary<FixtureMessage>).next(match, timeoutMs);

    async function scrape(url = metricsUrl): Promise<string> {
      const { status, body } = await get(url, undefined, AUTH);
      if (status !== 200) throw new Error(`GET ${url} answered ${status}: ${body}`);
      return body;
    }

    async function traffic(count: number, concurrency = 8): Promise<void> {
      await load(appUrl, count, concurrency);
      requests += count;
    }

    /** A file whose creation releases a worker blocked `until` it exists. */
    const releaseFile = (name: string): string => path.join(out, `release-${name}`);

    /** Blocks `worker`'s event loop until `file` exists. */
    async function block(worker: number, file: string): Promise<void> {
      primary?.send({ cmd: 'block', worker, until: file });
      await next((m) => m.fixture === 'blocking' && m.worker === worker, 10_000);
    }

    async function fork(): Promise<number> {
      primary?.send({ cmd: 'fork' });
      const forked = await next((m) => m.fixture === 'forked', 60_000);
      started++;
      return forked.worker as number;
    }

    /** Exact: the sum of every request ever served, and one registration per worker ever started. */
    function expectExactSums(text: string): void {
      expect(total(text, 'veza_http_requests_total', { endpoint: '/ping' })).toBe(requests);
      expect(
        sampleValue(text, 'veza_http_request_duration_seconds_count', { method: 'GET', endpoint: '/ping' }) ??
          0,
      ).toBe(requests);
      expect(sampleValue(text, 'veza_users_registered_total')).toBe(started);
    }

    beforeAll(async () => {
      primary = new FixturePrimary<FixtureMessage>(FIXTURE, {
        VEZA_METRICS_LIB: compileLibrary(out),
        WORKERS: String(WORKERS),
        TIMEOUT_MS: String(TIMEOUT_MS),
        TOKEN,
      });
      const ready = await next((m) => m.fixture === 'ready', 60_000);
      appUrl = ready.appUrl as string;
      metricsUrl = ready.metricsUrl as string;
      patientUrl = ready.patientUrl as string;
      workers = ready.workers ?? [];
      started = workers.length;
    }, 90_000);

    afterAll(async () => {
      await primary?.stop();
      rmSync(out, { recursive: true, force: true });
    }, 15_000);

    it(`serves from the primary exactly the ${fmt(REQUESTS)} requests the 4 workers counted`, async () => {
      expect(workers.map((w) => w.id)).toEqual([1, 2, 3, 4]);
      const pids = await load(appUrl, REQUESTS);
      requests += REQUESTS;
      // Every worker served some: the sum is over 4 registries, not one.
      expect([...pids].sort()).toEqual(workers.map((w) => String(w.pid)).sort());

      const text = await scrape();
      expectExactSums(text);
      expect(
        sampleValue(text, 'veza_http_requests_total', { method: 'GET', endpoint: '/ping', status: '2xx' }),
      ).toBe(REQUESTS);
      expect(
        sampleValue(text, 'veza_http_request_duration_seconds_bucket', {
          method: 'GET',
          endpoint: '/ping',
          le: '+Inf',
        }),
      ).toBe(REQUESTS);
      // Gauges: summed (worker n holds n users), except the health status: the worst any worker sees.
      expect(sampleValue(text, 'veza_active_users')).toBe(1 + 2 + 3 + 4);
      expect(sampleValue(text, 'veza_database_connections_active')).toBe(10 + 20 + 30 + 40);
      expect(sampleValue(text, 'veza_health_check_status', { service: 'db' })).toBe(0);
      expect(sampleValue(text, 'veza_metrics_cluster_workers')).toBe(WORKERS);
      expect(up(text)).toEqual({ 1: 1, 2: 1, 3: 1, 4: 1 });
      expect(sampleValue(text, 'veza_metrics_cluster_worker_timeouts_total')).toBe(0);
      expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(0);
      expect(sampleValue(text, 'veza_metrics_cluster_retired_samples')).toBe(0);
      // One family per name, each once, as Prometheus requires.
      const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
      expect(new Set(types).size).toBe(types.length);
    }, 120_000);

    it('locks the primary: 401 without the credentials, on the loopback interface only by default', async () => {
      for (const url of [metricsUrl, patientUrl]) {
        const anonymous = await get(url);
        expect([anonymous.status, anonymous.body]).toEqual([401, 'Unauthorized\n']);
        expect((await get(url, undefined, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
        expect((await get(url, undefined, AUTH)).status).toBe(200);
      }
      expect(
        sampleValue(await scrape(), 'veza_metrics_cluster_scrapes_rejected_total', {
          reason: 'unauthorized',
        }),
      ).toBe(2);

      const { hostname, port } = new URL(metricsUrl);
      expect(hostname).toBe('127.0.0.1');
      await expectLoopbackOnly(Number(port));
    }, 60_000);

    it('keeps the counters monotonic across repeated scrapes while traffic flows', async () => {
      const seen: number[] = [total(await scrape(), 'veza_http_requests_total', { endpoint: '/ping' })];
      // Each round scrapes while a batch of requests is under way: ten scrapes during traffic.
      const batch = Math.max(10, Math.round(REQUESTS / 20));
      for (let round = 0; round < 10; round++) {
        const [text] = await Promise.all([scrape(), traffic(batch)]);
        seen.push(total(text, 'veza_http_requests_total', { endpoint: '/ping' }));
      }
      seen.push(total(await scrape(), 'veza_http_requests_total', { endpoint: '/ping' }));
      expect(seen).toHaveLength(12);
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
      expect(seen[seen.length - 1]).toBe(requests);
    }, 120_000);

    it('names the worker that does not answer in time, instead of hanging the scrape', async () => {
      const before = await scrape();
      const timeouts = sampleValue(before, 'veza_metrics_cluster_worker_timeouts_total') as number;
      const stuck = workers[0].id; // worker 1, slot 1

      await block(stuck, releaseFile('timeout'));
      const during = await scrape();
      expect(sampleValue(during, 'veza_metrics_cluster_worker_timeouts_total')).toBe(timeouts + 1);
      expect(up(during)).toEqual({ 1: 0, 2: 1, 3: 1, 4: 1 });
      // The stuck worker's last answer stands in for it: nothing goes back.
      expectExactSums(during);

      // Once it is free again, it answers again.
      writeFileSync(releaseFile('timeout'), '');
      const after = await scrape(patientUrl);
      expect(up(after)).toEqual({ 1: 1, 2: 1, 3: 1, 4: 1 });
      expectExactSums(after);
    }, 60_000);

    it("leaves a hanging @GaugeSource out of its worker's answer, and only it", async () => {
      const hung = workers[2].id; // worker 3
      const timeouts = sampleValue(await scrape(), 'veza_metrics_cluster_worker_timeouts_total');
      primary?.send({ cmd: 'hang', worker: hung, on: true });
      await next((m) => m.fixture === 'hanging' && m.worker === hung, 10_000);

      const first = await scrape();
      // Worker 3 answered in time, without its pool gauge: everything else of it is there.
      expect(sampleValue(first, 'veza_database_connections_active')).toBe(10 + 20 + 40);
      expect(sampleValue(first, 'veza_active_users')).toBe(1 + 2 + 3 + 4);
      expect(up(first)).toEqual({ 1: 1, 2: 1, 3: 1, 4: 1 });
      expect(sampleValue(first, 'veza_metrics_cluster_worker_timeouts_total')).toBe(timeouts);
      expectExactSums(first);
      // The source left out is counted, in the same answer, in the worker's own failure counter.
      const failures = { metric: 'veza_database_connections_active', reason: 'timeout' };
      expect(sampleValue(first, 'veza_metrics_collect_failures_total', failures)).toBe(1);
      const second = await scrape();
      expect(sampleValue(second, 'veza_metrics_collect_failures_total', failures)).toBe(2);
      expect(sampleValue(second, 'veza_database_connections_active')).toBe(10 + 20 + 40);
      expectExactSums(second);

      primary?.send({ cmd: 'hang', worker: hung, on: false });
      await next((m) => m.fixture === 'hanging' && m.worker === hung, 10_000);
      expect(sampleValue(await scrape(), 'veza_database_connections_active')).toBe(10 + 20 + 30 + 40);
    }, 60_000);

    it('counts a worker that dies after answering, while the scrape waits for a slow one, exactly once', async () => {
      const before = await scrape();
      expectExactSums(before);
      const slow = workers[0].id; // worker 1
      const victim = workers[1].id; // worker 2
      await block(slow, releaseFile('slow'));
      // Worker 2 is killed as soon as it has answered the patient scrape, which still waits for worker 1.
      primary?.send({ cmd: 'killWhen', worker: victim, answered: victim });
      const waiting = scrape(patientUrl);
      await next((m) => m.fixture === 'exit' && m.worker === victim, 30_000);
      // Meanwhile, one scrape at a time on that endpoint: a second one is refused at once.
      const refused = await get(patientUrl, undefined, AUTH);
      expect([refused.status, refused.body]).toEqual([503, 'Too many concurrent scrapes\n']);
      writeFileSync(releaseFile('slow'), '');

      const during = await waiting;
      expectExactSums(during);
      expect(sampleValue(during, 'veza_metrics_cluster_workers')).toBe(WORKERS);
      // Its gauges go with it: worker 2 held 2 users.
      expect(sampleValue(during, 'veza_active_users')).toBe(1 + 3 + 4);
      const after = await scrape(patientUrl);
      expectExactSums(after);
      expect(up(after)).toEqual({ 1: 1, 2: 0, 3: 1, 4: 1 });
      expect(
        sampleValue(after, 'veza_metrics_cluster_scrapes_rejected_total', { reason: 'concurrency' }),
      ).toBe(1);
      expectExactSums(await scrape());
    }, 90_000);

    it('counts a worker that dies before answering a scrape as of its last answer', async () => {
      const doomed = workers[2].id; // worker 3
      const witness = workers[3].id; // worker 4
      expectExactSums(await scrape(patientUrl));
      await block(doomed, releaseFile('never'));
      // Worker 3, stuck, is killed once worker 4 has answered: the scrape waits for it until its exit.
      primary?.send({ cmd: 'killWhen', worker: doomed, answered: witness });
      const during = await scrape(patientUrl);
      expectExactSums(during);
      expect(up(during)).toEqual({ 1: 1, 2: 0, 3: 0, 4: 1 });
      expect(sampleValue(during, 'veza_active_users')).toBe(1 + 4);
      expectExactSums(await scrape());
    }, 90_000);

    it('replacements take the free slots; the sums go on from where they were', async () => {
      const retiredBefore = sampleValue(await scrape(), 'veza_metrics_cluster_retired_samples') as number;
      expect(retiredBefore).toBeGreaterThan(0);
      const seen: number[] = [];
      const fresh = [await fork(), await fork()];
      expect(fresh).toEqual([5, 6]);
      let text = await scrape();
      expect(up(text)).toEqual({ 1: 1, 2: 1, 3: 1, 4: 1 });
      expectExactSums(text);
      seen.push(total(text, 'veza_http_requests_total', { endpoint: '/ping' }));

      await traffic(Math.max(100, REQUESTS / 10));
      text = await scrape();
      expectExactSums(text);
      seen.push(total(text, 'veza_http_requests_total', { endpoint: '/ping' }));

      // Worker after worker dies and is replaced: the sums never go back, and what the primary keeps
      // for the dead does not grow (their series are the same as the ones already kept).
      let retired: number | undefined;
      for (let round = 0; round < 3; round++) {
        const newest = fresh[fresh.length - 1];
        primary?.send({ cmd: 'kill', worker: newest });
        await next((m) => m.fixture === 'exit' && m.worker === newest, 30_000);
        text = await scrape();
        expectExactSums(text);
        seen.push(total(text, 'veza_http_requests_total', { endpoint: '/ping' }));
        const kept = sampleValue(text, 'veza_metrics_cluster_retired_samples') as number;
        if (retired !== undefined) expect(kept).toBe(retired);
        retired = kept;
        fresh.push(await fork());
        await traffic(100, 4);
        text = await scrape();
        expectExactSums(text);
        seen.push(total(text, 'veza_http_requests_total', { endpoint: '/ping' }));
        expect(Object.keys(up(text)).sort()).toEqual(['1', '2', '3', '4']);
      }
      for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    }, 180_000);
  });
}
