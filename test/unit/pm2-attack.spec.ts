/**
 * pm2's cluster mode on a bad day (src/pm2/): an exited instance whose fold cannot be done now (the
 * lock held, the disk refusing), a pid used again by a new instance, a lock whose owner's pid now
 * belongs to another process. Instances are played by hand-written socket servers, as in
 * pm2-collector.spec.ts, or are real `Pm2Peer`s answering a real registry.
 */
import { Module, type INestApplicationContext } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import cluster from 'node:cluster';
import { execFileSync } from 'node:child_process';
import { constants as fsConstants, mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Pm2Collector } from '../../src/pm2/pm2-collector';
import { prepareDirectory, withLock } from '../../src/pm2/pm2-directory';
import { MAX_PART_SAMPLES, type MetricJson } from '../../src/cluster/cluster-protocol';
import { MAX_RETIRED_SAMPLES } from '../../src/cluster/retired-series';
import { Counter, Registry } from 'prom-client';
import { VezaMetricsModule } from '../../src';
import { Pm2Metrics } from '../../src/pm2/pm2-metrics';
import { Pm2Peer } from '../../src/pm2/pm2-peer';
import { AppRegistry } from '../../src/registry/app-registry';
import { addAnswering, removeAnswering } from '../../src/cluster/cluster-worker';

/** The counter every instance answers (the real ones through their own registry). */
const JOBS = 'vz_jobs_total';
const OPTIONS = { timeoutMs: 300, aggregators: {}, maxWorkerSamples: 1_000 };

function answerLines(id: number, requests: number): string {
  const metrics = [
    {
      registry: 0,
      name: JOBS,
      help: 'Requests',
      type: 'counter',
      values: [{ value: requests, labels: { status: '2xx' } }],
    },
  ];
  return (
    JSON.stringify({ type: 'veza-metrics:part', id, metrics }) +
    '\n' +
    JSON.stringify({ type: 'veza-metrics:collected', id, parts: 1, registries: 1 }) +
    '\n'
  );
}

/** An instance: answers `requests`, its state file written before its answer is sent. */
class FakeInstance {
  server: Server | undefined;
  constructor(
    readonly dir: string,
    readonly stem: string,
    public requests: number,
  ) {}

  async listen(): Promise<void> {
    const server = createServer((socket: Socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (chunk: Buffer) => {
        const request = JSON.parse(chunk.toString('utf8').split('\n')[0]) as { id: number };
        void this.writeState(request.id).then(() => socket.end(answerLines(request.id, this.requests)));
      });
    });
    await new Promise<void>((resolve) => server.listen(path.join(this.dir, `${this.stem}.sock`), resolve));
    this.server = server;
  }

  writeState(id = 1): Promise<void> {
    return fs.writeFile(path.join(this.dir, `${this.stem}.state`), answerLines(id, this.requests));
  }

  /** Dies as `kill -9` leaves it: the socket file stays, nobody listens. */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    const dead = createServer();
    const stale = path.join(this.dir, `${this.stem}-x.sock`);
    await new Promise<void>((resolve) => dead.listen(stale, resolve));
    await fs.rename(stale, path.join(this.dir, `${this.stem}.sock`));
    await new Promise<void>((resolve) => dead.close(() => resolve()));
  }
}

const requestsOf = (parts: MetricJson[][]): number =>
  parts
    .flat()
    .filter((m) => m.name === JOBS)
    .reduce((total, m) => total + m.values.reduce((s, v) => s + v.value, 0), 0);

describe('pm2 on a bad day', () => {
  let dir: string;
  const instances: FakeInstance[] = [];
  const counts = { timedOut: 0, failed: 0 };
  const events = { timedOut: () => void counts.timedOut++, failed: () => void counts.failed++ };
  const deadline = (): number => performance.now() + 5_000;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vz-pm2a-'));
    await prepareDirectory(dir);
    counts.timedOut = counts.failed = 0;
  });
  afterEach(async () => {
    for (const i of instances.splice(0))
      await new Promise<void>((r) => (i.server ? i.server.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(stem: string, requests: number): Promise<FakeInstance> {
    const instance = new FakeInstance(dir, stem, requests);
    await instance.listen();
    instances.push(instance);
    return instance;
  }

  it('an exited instance stays in the sum while the lock is held by a live process past the scrape', async () => {
    await start('w0-101-0000abcd', 5);
    const b = await start('w1-102-0000abcd', 7);
    const collector = new Pm2Collector(dir, OPTIONS, events);
    expect(requestsOf((await collector.collect(deadline())).parts)).toBe(12);
    await b.kill();
    await fs.writeFile(path.join(dir, 'retired.lock'), String(process.pid));
    expect(requestsOf((await collector.collect(performance.now() + 100)).parts)).toBe(12);
    expect(counts.failed).toBe(1);
    await fs.rm(path.join(dir, 'retired.lock'));
    for (let scrape = 0; scrape < 2; scrape++)
      expect(requestsOf((await collector.collect(deadline())).parts)).toBe(12);
  });

  it('an exited instance stays in the sum while the disk refuses its fold, and is folded once it accepts', async () => {
    await start('w0-101-0000abcd', 5);
    const b = await start('w1-102-0000abcd', 7);
    const collector = new Pm2Collector(dir, OPTIONS, events);
    expect(requestsOf((await collector.collect(deadline())).parts)).toBe(12);
    await b.kill();
    // retired.state's temporary file cannot be written (EISDIR, as ENOSPC or EROFS would refuse it).
    await fs.mkdir(path.join(dir, 'retired.state.tmp'));
    expect(requestsOf((await collector.collect(deadline())).parts)).toBe(12);
    expect(requestsOf((await collector.collect(deadline())).parts)).toBe(12);
    expect(counts.failed).toBe(2);
    await fs.rmdir(path.join(dir, 'retired.state.tmp'));
    expect(requestsOf((await collector.collect(deadline())).parts)).toBe(12);
    expect((await fs.readdir(dir)).sort()).toEqual([
      'retired.state',
      'w0-101-0000abcd.sock',
      'w0-101-0000abcd.state',
    ]);
    expect(requestsOf((await collector.collect(deadline())).parts)).toBe(12);
  });

  it("a lock whose owner's pid now belongs to another live process is taken over once it is old", async () => {
    const lock = path.join(dir, 'retired.lock');
    await fs.writeFile(lock, String(process.pid));
    const old = new Date(Date.now() - 10 * 60_000);
    await fs.utimes(lock, old, old);
    expect(await withLock(dir, performance.now() + 1_000, () => Promise.resolve('ran'))).toEqual({
      done: 'ran',
    });
  });

  it('a peer that sends small frames for ever (empty parts) is cut at timeoutMs, counted, and keeps nothing', async () => {
    await start('w0-101-0000abcd', 5);
    const frame = Buffer.from(
      `${JSON.stringify({ type: 'veza-metrics:part', id: 0, metrics: [] })}\n`.repeat(1_000),
    );
    const flood = createServer((socket) => {
      socket.on('error', () => undefined);
      const write = (): void => {
        while (!socket.destroyed && socket.write(frame));
        if (!socket.destroyed) socket.once('drain', write);
      };
      socket.once('data', write);
    });
    await new Promise<void>((resolve) => flood.listen(path.join(dir, 'w1-102-0000abcd.sock'), resolve));
    try {
      global.gc?.();
      const before = process.memoryUsage().heapUsed;
      const got = await new Pm2Collector(dir, { ...OPTIONS, timeoutMs: 1_000 }, events).collect(deadline());
      global.gc?.();
      expect(process.memoryUsage().heapUsed - before).toBeLessThan(16 * 1024 * 1024);
      expect(requestsOf(got.parts)).toBe(5);
      expect(counts).toEqual({ timedOut: 1, failed: 0 });
    } finally {
      await new Promise<void>((resolve) => flood.close(() => resolve()));
    }
  });

  it('an instance seen exited by a scrape waiting for the lock, listening again when it gets it, is not folded', async () => {
    await start('w0-101-0000abcd', 5);
    const old = await start('w1-102-0000abcd', 7);
    await old.writeState();
    await old.kill();
    const lock = path.join(dir, 'retired.lock');
    await fs.writeFile(lock, String(process.pid));
    let waiting!: () => void;
    const atLock = new Promise<void>((resolve) => (waiting = resolve));
    const readFile = fs.readFile.bind(fs);
    jest.spyOn(fs, 'readFile').mockImplementation(((file: string, ...rest: unknown[]) => {
      if (file === lock) waiting();
      return (readFile as (...args: unknown[]) => unknown)(file, ...rest);
    }) as typeof fs.readFile);
    // The scrape found w1-102's socket refusing, and waits for the lock...
    const scrape = new Pm2Collector(dir, OPTIONS, events).collect(deadline());
    await atLock;
    // ...while a new process with that pid and instance listens there, and answers.
    await fs.rm(path.join(dir, 'w1-102-0000abcd.sock'));
    const again = await start('w1-102-0000abcd', 3);
    await again.writeState();
    await fs.rm(lock);
    await scrape;
    jest.restoreAllMocks();
    again.requests = 4;
    expect((await fs.readdir(dir)).sort()).toContain('w1-102-0000abcd.sock');
    expect(requestsOf((await new Pm2Collector(dir, OPTIONS, events).collect(deadline())).parts)).toBe(9);
  });

  it('an asker that sends its request and never reads holds a real instance only for the wait it asked for', async () => {
    const registry = new Registry();
    const big = new Counter({ name: JOBS, help: 'Jobs', labelNames: ['route'], registers: [registry] });
    for (let i = 0; i < 20_000; i++) big.inc({ route: `/a/rather/long/route/number/${i}` });
    addAnswering(registry, 1_000);
    const peer = new Pm2Peer(dir, 'w0-1-0000abcd');
    await peer.listen();
    const stuck = connect(path.join(dir, 'w0-1-0000abcd.sock'));
    try {
      await new Promise<void>((resolve) => stuck.once('connect', resolve));
      stuck.pause();
      stuck.write(`${JSON.stringify({ type: 'veza-metrics:pm2-collect', v: 1, id: 1, timeoutMs: 200 })}\n`);
      const got = await new Pm2Collector(
        dir,
        { ...OPTIONS, timeoutMs: 20_000, maxWorkerSamples: 250_000 },
        events,
      ).collect(performance.now() + 20_000);
      expect(counts).toEqual({ timedOut: 0, failed: 0 });
      expect(requestsOf(got.parts)).toBe(20_000);
    } finally {
      stuck.destroy();
      await peer.close();
      removeAnswering(registry);
    }
  }, 30_000);

  it('a state file that is a FIFO is refused, not waited on (it would hold a libuv thread for ever)', async () => {
    await start('w0-101-0000abcd', 5);
    const b = await start('w1-102-0000abcd', 7);
    await b.kill();
    await fs.rm(path.join(dir, 'w1-102-0000abcd.state'), { force: true });
    execFileSync('mkfifo', [path.join(dir, 'w1-102-0000abcd.state')]);
    try {
      const got = await new Pm2Collector(dir, OPTIONS, events).collect(deadline());
      expect(requestsOf(got.parts)).toBe(5);
      expect(counts.failed).toBe(1);
    } finally {
      // A reader stuck on it (before the fix) is let go: a writer opens it.
      await fs
        .open(path.join(dir, 'w1-102-0000abcd.state'), fsConstants.O_WRONLY | fsConstants.O_NONBLOCK)
        .then(
          (h) => h.close(),
          () => undefined,
        );
    }
  }, 10_000);

  it("two scrapes taking over a dead owner's lock at once never hold it together", async () => {
    const lock = path.join(dir, 'retired.lock');
    await fs.writeFile(lock, '2147483646');
    // The first to read the lock (B) reads the dead owner, then is held until A has taken it over.
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    let judged!: () => void;
    const bJudging = new Promise<void>((resolve) => (judged = resolve));
    let calls = 0;
    const readFile = fs.readFile.bind(fs);
    jest.spyOn(fs, 'readFile').mockImplementation(((file: string, ...rest: unknown[]) => {
      const read = (readFile as (...args: unknown[]) => Promise<unknown>)(file, ...rest);
      if (file !== lock || calls++ > 0) return read;
      judged();
      return read.then(async (text) => {
        await held;
        return text;
      });
    }) as typeof fs.readFile);
    let holders = 0;
    let most = 0;
    let aHolds!: () => void;
    const aIn = new Promise<void>((resolve) => (aHolds = resolve));
    let letAGo!: () => void;
    const aOut = new Promise<void>((resolve) => (letAGo = resolve));
    const work = (signal?: () => void, until?: Promise<void>) => async (): Promise<void> => {
      most = Math.max(most, ++holders);
      signal?.();
      await until;
      holders--;
    };
    const b = withLock(dir, performance.now() + 5_000, work());
    await bJudging;
    const a = withLock(dir, performance.now() + 5_000, work(aHolds, aOut));
    await aIn;
    // A holds the lock; B goes on from the dead owner it read. A is let go once B read the lock twice more.
    release();
    const polled = calls + 2;
    await new Promise<void>((resolve) => {
      const check = (): void => (calls >= polled || most > 1 ? resolve() : void setTimeout(check, 1));
      check();
    });
    letAGo();
    await Promise.all([a, b]);
    jest.restoreAllMocks();
    expect(most).toBe(1);
  });

  it('retired.state changed with the same inode, size and mtime (inode reuse within one clock tick) is read again', async () => {
    const file = path.join(dir, 'retired.state');
    const base = (g: string, jobs: number): string =>
      JSON.stringify({ type: 'veza-metrics:pm2-retired', g, v: 1, folded: [], samples: 1 }) +
      '\n' +
      answerLines(0, jobs);
    const mtime = new Date(Math.floor(Date.now() / 1_000) * 1_000);
    await fs.writeFile(file, base('1'.repeat(16), 5));
    await fs.utimes(file, mtime, mtime);
    const collector = new Pm2Collector(dir, OPTIONS, events);
    expect(requestsOf((await collector.collect(deadline())).parts)).toBe(5);
    // Another instance's fold: same length, same inode (rewritten in place here), same mtime.
    const handle = await fs.open(file, 'r+');
    await handle.write(base('2'.repeat(16), 7), 0);
    await handle.close();
    await fs.utimes(file, mtime, mtime);
    expect(requestsOf((await collector.collect(deadline())).parts)).toBe(7);
  });

  it(`a retired base full to MAX_RETIRED_SAMPLES (${MAX_RETIRED_SAMPLES}) is read again by every instance`, async () => {
    // An exited instance whose answer is as large as the base may be: one counter of that many series.
    const lines: string[] = [];
    let parts = 0;
    for (let at = 0; at < MAX_RETIRED_SAMPLES; at += MAX_PART_SAMPLES, parts++) {
      const values = [];
      for (let i = at; i < Math.min(MAX_RETIRED_SAMPLES, at + MAX_PART_SAMPLES); i++)
        values.push({ value: 1, labels: { route: `/r/${i}` } });
      lines.push(
        JSON.stringify({
          type: 'veza-metrics:part',
          id: 1,
          metrics: [{ registry: 0, name: JOBS, help: 'Jobs', type: 'counter', values }],
        }),
      );
    }
    lines.push(JSON.stringify({ type: 'veza-metrics:collected', id: 1, parts, registries: 1 }));
    await fs.writeFile(path.join(dir, 'w1-102-0000abcd.state'), lines.join('\n') + '\n');
    const options = { ...OPTIONS, maxWorkerSamples: 250_000 };
    const folding = await new Pm2Collector(dir, options, events).collect(deadline());
    expect(folding.retiredSamples).toBe(MAX_RETIRED_SAMPLES);
    // Another instance (a new collector) reads the base that fold wrote.
    const other = await new Pm2Collector(dir, options, events).collect(deadline());
    expect(requestsOf(other.parts)).toBe(MAX_RETIRED_SAMPLES);
    expect(counts.failed).toBe(0);
  });

  describe('a real instance (the module in a pm2 instance of this process)', () => {
    const saved = { ...process.env };
    let app: INestApplicationContext | undefined;
    /** An exited process's names, as this process's would be had it the same nonce (its own are random). */
    const stem = `w0-${process.pid}-0000abcd`;

    beforeEach(() => {
      Object.assign(process.env, {
        pm_id: '0',
        exec_mode: 'cluster_mode',
        NODE_APP_INSTANCE: '0',
        name: 'api',
      });
      jest.replaceProperty(cluster, 'isWorker', true);
    });
    afterEach(async () => {
      await app?.close();
      app = undefined;
      process.env = saved;
      jest.restoreAllMocks();
    });

    async function startApp(
      jobs: number,
      pm2: object | boolean = { directory: dir, timeoutMs: 2_000 },
    ): Promise<void> {
      const registry = new Registry();
      new Counter({ name: JOBS, help: 'Jobs', labelNames: ['status'], registers: [registry] }).inc(
        { status: '2xx' },
        jobs,
      );
      @Module({
        imports: [
          VezaMetricsModule.forRoot({
            registry,
            defaultMetrics: false,
            pm2,
          }),
        ],
      })
      class AppModule {}
      const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
      app = await moduleRef.createNestApplication({ logger: false }).init();
    }

    it('a process that gets the pid of an exited instance not folded yet: both counted, once', async () => {
      // The instance that had this pid (a container restarted: pids are given again in the same order)
      // was killed: its state and its dead socket are there, nobody folded them.
      const previous = new FakeInstance(dir, stem, 7);
      await previous.listen();
      await previous.writeState();
      await previous.kill();
      await start('w1-101-0000abcd', 5);
      await startApp(3);
      const collector = new Pm2Collector(dir, OPTIONS, events);
      for (let scrape = 0; scrape < 2; scrape++)
        expect(requestsOf((await collector.collect(deadline())).parts)).toBe(15);
    });

    it('a process that gets the pid of an instance folded before is counted, and kept once it exits', async () => {
      const previous = await start(stem, 7);
      await start('w1-101-0000abcd', 5);
      const collector = new Pm2Collector(dir, OPTIONS, events);
      expect(requestsOf((await collector.collect(deadline())).parts)).toBe(12);
      await previous.kill();
      instances.splice(instances.indexOf(previous), 1);
      expect(requestsOf((await collector.collect(deadline())).parts)).toBe(12);
      await startApp(3);
      expect(requestsOf((await collector.collect(deadline())).parts)).toBe(15);
      await app?.close();
      app = undefined;
      for (let scrape = 0; scrape < 2; scrape++)
        expect(requestsOf((await collector.collect(deadline())).parts)).toBe(15);
    });

    it("the final state at close holds the module's own registry's counts, whatever order Nest destroys providers in", async () => {
      await start('w1-101-0000abcd', 5);
      @Module({
        imports: [
          VezaMetricsModule.forRoot({ defaultMetrics: false, pm2: { directory: dir, timeoutMs: 2_000 } }),
        ],
      })
      class AppModule {}
      const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
      app = await moduleRef.createNestApplication({ logger: false }).init();
      // The module's registry (the default): cleared by AppRegistry's onModuleDestroy.
      const { registry } = app.get(AppRegistry);
      new Counter({
        name: JOBS,
        help: 'Jobs',
        labelNames: ['status'],
        registers: [registry as Registry],
      }).inc({ status: '2xx' }, 3);
      const collector = new Pm2Collector(dir, OPTIONS, events);
      expect(requestsOf((await collector.collect(deadline())).parts)).toBe(8);
      // Nest 10 and 11 call every provider's onModuleDestroy at once, in the order they were
      // registered: the registry's first, as here.
      const registryProvider: { onModuleDestroy(): unknown } = app.get(AppRegistry);
      await (registryProvider.onModuleDestroy() as Promise<void>);
      await app.close();
      app = undefined;
      expect(requestsOf((await collector.collect(deadline())).parts)).toBe(8);
    });

    it('an app closed and started again in the same process (same pid) is counted again, its first life kept', async () => {
      await start('w1-101-0000abcd', 5);
      const collector = new Pm2Collector(dir, OPTIONS, events);
      await startApp(3);
      expect(requestsOf((await collector.collect(deadline())).parts)).toBe(8);
      await app?.close();
      app = undefined;
      expect(requestsOf((await collector.collect(deadline())).parts)).toBe(8);
      await startApp(2);
      for (let scrape = 0; scrape < 2; scrape++)
        expect(requestsOf((await collector.collect(deadline())).parts)).toBe(10);
    });

    it('the directory removed under a running app: the scrape answers, counts it, and the instance listens again with the retired base written back', async () => {
      const b = await start('w1-102-0000abcd', 7);
      await start('w2-103-0000abcd', 5);
      await startApp(3);
      const pm2 = app!.get(Pm2Metrics);
      const scrape = async (): Promise<string> =>
        Buffer.concat(
          await pm2.renderChunks('text', {
            deadline: performance.now() + 5_000,
            collectTimeoutMs: 1_000,
            onCollectFailure: () => undefined,
          }),
        ).toString();
      expect(await scrape()).toContain('vz_jobs_total{status="2xx"} 15');
      await b.kill();
      expect(await scrape()).toContain('vz_jobs_total{status="2xx"} 15');
      rmSync(dir, { recursive: true, force: true });
      // w2-103 (a hand-played instance) does not make its socket again; a real one does within 10 s.
      const text = await scrape();
      expect(text).toContain('vz_jobs_total{status="2xx"} 10');
      expect(text).toContain('veza_metrics_pm2_worker_errors_total 1');
      const own = (await fs.readdir(dir)).sort();
      expect(own).toHaveLength(3);
      expect(own[0]).toBe('retired.state');
      expect(own[1]).toMatch(new RegExp(`^w0-${process.pid}-[0-9a-f]{8}\\.sock$`));
      expect(own[2]).toBe(own[1].replace(/\.sock$/, '.state'));
      expect(await scrape()).toContain('vz_jobs_total{status="2xx"} 10');
    });

    it('a link planted where a state or retired.state is written is not followed: the file it names stays as it was', async () => {
      const victim = path.join(mkdtempSync(path.join(tmpdir(), 'vz-pm2v-')), 'victim');
      await fs.writeFile(victim, 'untouched');
      await fs.symlink(victim, path.join(dir, `${stem}.state.tmp`));
      await fs.symlink(victim, path.join(dir, 'retired.state.tmp'));
      await startApp(3);
      const b = await start('w1-102-0000abcd', 7);
      const collector = new Pm2Collector(dir, OPTIONS, events);
      await collector.collect(deadline());
      await b.kill();
      await collector.collect(deadline());
      expect(await fs.readFile(victim, 'utf8')).toBe('untouched');
      rmSync(path.dirname(victim), { recursive: true, force: true });
    });

    it.each([
      ['pm2: false', { exec_mode: 'cluster_mode' }, true, false],
      ["pm2's fork mode", { exec_mode: 'fork_mode' }, true, { directory: '' }],
      [
        'pm_id set outside pm2 (not a cluster worker)',
        { exec_mode: 'cluster_mode' },
        false,
        { directory: '' },
      ],
    ])('%s: inert (no socket, no file, the instance answers alone)', async (_, env, worker, pm2) => {
      Object.assign(process.env, env);
      jest.replaceProperty(cluster, 'isWorker', worker);
      await startApp(3, pm2 === false ? false : { directory: dir });
      expect(await fs.readdir(dir)).toEqual([]);
    });
  });
});
