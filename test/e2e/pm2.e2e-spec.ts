/**
 * pm2's cluster mode with the real pm2 (the devDependency, under a PM2_HOME of its own:
 * test/utils/pm2.ts): `pm2 start test/fixtures/pm2/pm2-app.js -i 4`, each instance a Nest app with
 * VezaMetricsModule's `pm2` option, the four on one port that pm2's daemon hands out connection by
 * connection (and `metricsServer` on another, shared the same way). Whichever instance a scrape lands
 * on, /metrics must show the sum over the four, exactly, behind the same auth; a hung instance is
 * answered for by its last answer; an instance killed between scrapes or during one loses no count
 * it had answered, and its replacement adds on; a `pm2 restart` of all 4 loses none. The same on
 * Fastify with 2 instances.
 * test/e2e/pm2-prometheus.e2e-spec.ts runs a `pm2 reload` and a kill -9 under load, seen by Prometheus.
 *
 * Every request is on a new connection, so that pm2's round robin spreads them (and the scrapes)
 * over the instances; the fixture's `x-veza-instance` header says who answered. A scrape of one
 * instance in particular goes through the fixture's `direct` listener of that instance.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { compileLibrary } from '../utils/cluster-fixture';
import { sampleValue } from '../utils/exposition';
import { findPm2, Pm2 } from '../utils/pm2';
import { allUp, get, Pm2Fixture, up } from '../utils/pm2-fixture';
import { findTool } from '../utils/tools';
import { until } from '../utils/until';

const pm2Cli = findPm2();
const describeWithPm2 = pm2Cli ? describe : describe.skip;
/** `ss` (iproute2) shows when a request waits on a blocked instance's socket. */
const ss = findTool('ss', 'iproute2');
const itWithSs = ss ? it : it.skip;

const ROOT = path.resolve(__dirname, '../..');
const INSTANCES = 4;
/**
 * The `pm2.timeoutMs` of the fixture: an instance that takes longer is answered for by its last
 * answer. Generous, so that a healthy instance on a loaded machine is never taken for a hung one (the
 * sums here are exact only when every live instance answers); the hung one is blocked until released.
 */
const PM2_TIMEOUT_MS = 5_000;
const TOKEN = 'pm2-s3cret';

describeWithPm2('pm2 cluster mode: 4 instances of a Nest app under the real pm2, one exposition', () => {
  const out = path.join(ROOT, '.tmp', `pm2-lib-${process.pid}`);
  const temp = mkdtempSync(path.join(tmpdir(), 'veza-pm2-test-'));
  let pm2: Pm2;
  let app: Pm2Fixture;

  beforeAll(async () => {
    pm2 = new Pm2(pm2Cli);
    app = await Pm2Fixture.start(pm2, {
      name: 'veza-pm2',
      instances: INSTANCES,
      lib: compileLibrary(out),
      dir: path.join(temp, 'express'),
      token: TOKEN,
      timeoutMs: PM2_TIMEOUT_MS,
      metricsServer: true,
    });
  }, 180_000);

  afterAll(async () => {
    await pm2?.kill();
    rmSync(out, { recursive: true, force: true });
    rmSync(temp, { recursive: true, force: true });
  }, 60_000);

  it('sums the 4 instances exactly in every scrape, whichever instance answers it', async () => {
    const instances = await app.live();
    expect(instances.map((a) => a.instance)).toEqual([0, 1, 2, 3]);
    const served = await app.hits(400);
    // pm2 spread the requests: each of the 4 registries holds some of them.
    expect([...served.keys()].sort()).toEqual(['0', '1', '2', '3']);

    // Scrapes of the shared port, one connection each: pm2 hands them to the instances in turn.
    const answeredBy: string[] = [];
    await until(async () => {
      const { body, instance } = await app.scrape(`${app.appUrl}/metrics`);
      answeredBy.push(instance);
      app.expectExact(body);
      expect(sampleValue(body, 'veza_metrics_pm2_workers')).toBe(INSTANCES);
      expect(up(body)).toEqual(allUp(INSTANCES));
      expect(sampleValue(body, 'veza_metrics_pm2_worker_timeouts_total')).toBe(0);
      expect(sampleValue(body, 'veza_metrics_pm2_worker_errors_total')).toBe(0);
      // One family per name, each once, as Prometheus requires.
      const types = body.split('\n').filter((l) => l.startsWith('# TYPE '));
      expect(new Set(types).size).toBe(types.length);
      return new Set(answeredBy).size === INSTANCES;
    }, 'a scrape answered by each of the 4 instances');
    expect(answeredBy.length).toBeGreaterThanOrEqual(INSTANCES);

    // The metricsServer's port is shared by the 4 the same way: the same sums.
    for (let i = 0; i < 8; i++) {
      const { body } = await app.scrape(app.metricsServerUrl);
      app.expectExact(body);
      expect(sampleValue(body, 'veza_metrics_pm2_workers')).toBe(INSTANCES);
    }
    await app.expectEachExact(instances);
  }, 120_000);

  it('asks for the credentials on every instance, on the app port and on metricsServer', async () => {
    const instances = await app.live();
    // A refused scrape asks no instance: no state file is written (nobody without the credentials
    // makes 4 processes write to disk).
    const states = app.stateFiles();
    expect(Object.keys(states)).toHaveLength(INSTANCES);
    const urls = [...instances.map((a) => app.directUrl(a)), ...Array<string>(8).fill(app.metricsServerUrl)];
    for (const url of urls) {
      const anonymous = await get(url);
      expect([anonymous.status, anonymous.body]).toEqual([401, 'Unauthorized\n']);
      expect((await get(url, { authorization: `Bearer ${TOKEN}x` })).status).toBe(401);
    }
    const refusedBy = new Set<string>();
    await until(async () => {
      const anonymous = await get(`${app.appUrl}/metrics`);
      expect(anonymous.status).toBe(401);
      refusedBy.add(anonymous.instance);
      return refusedBy.size === INSTANCES;
    }, 'an anonymous scrape refused by each of the 4 instances');
    expect(app.stateFiles()).toEqual(states);
    app.expectExact((await app.scrape(`${app.appUrl}/metrics`)).body);
    // An authorized one does (which shows the check above can see a write).
    expect(app.stateFiles()).not.toEqual(states);
  }, 60_000);

  it("answers for a hung instance with its last answer, within the scrape's timeout", async () => {
    const instances = await app.live();
    const before = (await app.scrape(app.directUrl(instances[0]))).body;
    app.expectExact(before);
    const timeouts = sampleValue(before, 'veza_metrics_pm2_worker_timeouts_total') ?? 0;
    const release = path.join(temp, 'release-hung');
    await app.block(instances[1], release);
    try {
      // Instance 1 stays blocked until this test releases it, after these scrapes: each is answered
      // without it, after `timeoutMs` (a scrape that waited for it would never end).
      const seen: string[] = [];
      for (const a of [instances[0], instances[2]]) {
        const { body } = await app.scrape(app.directUrl(a));
        seen.push(body);
        expect(up(body)).toEqual({ ...allUp(INSTANCES), 1: 0 });
        expect(sampleValue(body, 'veza_metrics_pm2_workers')).toBe(INSTANCES);
        // Its last answer stands in for it: nothing goes back.
        app.expectExact(body);
      }
      // Each scraped instance counts the timeout in its own counter, after its own answer to that
      // scrape: instance 0's count is in the second scrape (instance 2's own, in the next one).
      expect(sampleValue(seen[1], 'veza_metrics_pm2_worker_timeouts_total')).toBeGreaterThan(timeouts);
    } finally {
      writeFileSync(release, '');
    }
    await until(
      async () => up((await app.scrape(app.directUrl(instances[3]))).body)[1] === 1,
      'instance 1 answering again',
    );
    await app.hits(40);
    await app.expectEachExact(instances);
  }, 90_000);

  it('keeps the last answered counts of an instance killed between scrapes; its replacement adds on', async () => {
    let instances = await app.live();
    await app.hits(100);
    // Every instance answers these scrapes: what each has counted is in its last answer.
    await app.expectEachExact(instances);
    const victim = instances[2];
    pm2.kill9(victim.pid);
    app.expectExact((await app.scrape(app.directUrl(instances[0]))).body);

    // pm2 starts a new process for instance 2: its counts start from 0 and add on.
    instances = await app.live([victim.pid]);
    const after = (await app.scrape(`${app.appUrl}/metrics`)).body;
    app.expectExact(after);
    expect(sampleValue(after, 'veza_metrics_pm2_retired_samples')).toBeGreaterThan(0);
    const served = await app.hits(100);
    expect(served.get('2') ?? 0).toBeGreaterThan(0);
    await app.expectEachExact(instances);
    await app.expectOnlyFilesOf(instances);
  }, 120_000);

  itWithSs(
    'keeps the last answered counts of an instance killed while a scrape waits for it',
    async () => {
      let instances = await app.live();
      await app.hits(100);
      await app.expectEachExact(instances);
      const victim = instances[3];
      await app.block(victim, path.join(temp, 'never'));
      // A scrape of instance 0 asks instance 3, blocked: killed once that request waits on its socket.
      const scraping = app.scrape(app.directUrl(instances[0]));
      await until(
        () => app.requestWaiting(ss as string, victim.pid),
        "the scrape's request waiting, unread, on instance 3's socket",
      );
      pm2.kill9(victim.pid);
      app.expectExact((await scraping).body);

      instances = await app.live([victim.pid]);
      app.expectExact((await app.scrape(`${app.appUrl}/metrics`)).body);
      await app.hits(100);
      await app.expectEachExact(instances);
      await app.expectOnlyFilesOf(instances);
    },
    120_000,
  );

  it('carries the counts over a pm2 restart, all 4 instances stopped and started again', async () => {
    let instances = await app.live();
    await app.hits(100);
    await app.expectEachExact(instances);
    // Stopped gracefully (each writes a final state), then started: the new processes start from 0.
    await pm2.restart('veza-pm2');
    instances = await app.live(instances.map((a) => a.pid));
    app.expectExact((await app.scrape(`${app.appUrl}/metrics`)).body);
    await app.hits(100);
    await app.expectEachExact(instances);
    await app.expectOnlyFilesOf(instances);
  }, 120_000);

  it('does the same on Fastify: 2 instances, exact in every scrape, behind the same auth', async () => {
    const name = 'veza-pm2-fastify';
    const fastify = await Pm2Fixture.start(pm2, {
      name,
      instances: 2,
      lib: path.join(out, 'index.js'),
      dir: path.join(temp, 'fastify'),
      token: TOKEN,
      timeoutMs: PM2_TIMEOUT_MS,
      adapter: 'fastify',
    });
    try {
      const served = await fastify.hits(40, 4);
      expect([...served.keys()].sort()).toEqual(['0', '1']);
      // One connection each, in turn to the 2 instances.
      const answeredBy = new Set<string>();
      await until(async () => {
        const { body, instance } = await fastify.scrape(`${fastify.appUrl}/metrics`);
        fastify.expectExact(body);
        expect(sampleValue(body, 'veza_metrics_pm2_workers')).toBe(2);
        expect(up(body)).toEqual(allUp(2));
        answeredBy.add(instance);
        return answeredBy.size === 2;
      }, 'a scrape answered by each of the 2 Fastify instances');
      const refusedBy = new Set<string>();
      await until(async () => {
        const anonymous = await get(`${fastify.appUrl}/metrics`);
        expect(anonymous.status).toBe(401);
        refusedBy.add(anonymous.instance);
        return refusedBy.size === 2;
      }, 'an anonymous scrape refused by each of the 2 Fastify instances');
    } finally {
      await pm2.delete(name);
    }
  }, 120_000);
});
