/**
 * pm2's cluster mode, the asking side (src/pm2/pm2-collector.ts), against instances played by
 * hand-written socket servers in a temporary directory: what a scrape sums, what survives an
 * instance's death (once, even when two scrapes fold it at once), and the attacker's pass (a peer
 * that never answers, one that sends an endless line or garbage, a lock left by a dead process, a
 * directory someone else could write to, more instances than the bound).
 */
import { mkdtempSync, promises as fs, rmSync, symlinkSync, mkdirSync, chmodSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Pm2Collector, MAX_PM2_PEERS } from '../../src/pm2/pm2-collector';
import { prepareDirectory, withLock } from '../../src/pm2/pm2-directory';
import { FrameSplitter, MAX_FRAME_BYTES } from '../../src/pm2/pm2-frames';
import type { MetricJson } from '../../src/cluster/cluster-protocol';

const OPTIONS = {
  timeoutMs: 300,
  aggregators: { veza_health_check_status: 'min' as const },
  maxWorkerSamples: 1_000,
};

/** A counter and a gauge, as one instance's answer (frames of the cluster protocol, one per line). */
function answerLines(id: number, requests: number, sessions = 1): string {
  const metrics = [
    {
      registry: 0,
      name: 'veza_http_requests_total',
      help: 'Requests',
      type: 'counter',
      values: [{ value: requests, labels: { status: '2xx' } }],
    },
    {
      registry: 0,
      name: 'veza_active_sessions',
      help: 'Sessions',
      type: 'gauge',
      values: [{ value: sessions, labels: {} }],
    },
  ];
  return (
    JSON.stringify({ type: 'veza-metrics:part', id, metrics }) +
    '\n' +
    JSON.stringify({ type: 'veza-metrics:collected', id, parts: 1, registries: 1 }) +
    '\n'
  );
}

type Behaviour = 'answer' | 'silent' | 'endless' | 'garbage';

/** An instance: a socket server in `dir` that answers `requests` (and writes its state file first, as Pm2Peer does). */
class FakeInstance {
  server: Server | undefined;
  requests = 0;
  constructor(
    readonly dir: string,
    readonly stem: string,
    public behaviour: Behaviour = 'answer',
  ) {}

  async listen(): Promise<void> {
    const server = createServer((socket: Socket) => {
      socket.on('error', () => undefined);
      socket.once('data', (chunk: Buffer) => {
        const request = JSON.parse(chunk.toString('utf8').split('\n')[0]) as { id: number };
        void this.reply(socket, request.id);
      });
    });
    await new Promise<void>((resolve) => server.listen(path.join(this.dir, `${this.stem}.sock`), resolve));
    this.server = server;
  }

  private async reply(socket: Socket, id: number): Promise<void> {
    if (this.behaviour === 'silent') return;
    if (this.behaviour === 'garbage') {
      socket.end('{"type": not json\n');
      return;
    }
    if (this.behaviour === 'endless') {
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const write = (): void => {
        while (!socket.destroyed && socket.write(chunk));
        if (!socket.destroyed) socket.once('drain', write);
      };
      write();
      return;
    }
    await this.writeState(id);
    socket.end(answerLines(id, this.requests));
  }

  /** The state file, as the instance's last answer. */
  async writeState(id = 1): Promise<void> {
    await fs.writeFile(path.join(this.dir, `${this.stem}.state`), answerLines(id, this.requests));
  }

  /** Dies as `kill -9` leaves it: the socket file stays, nobody listens. */
  async kill(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await new Promise<void>((resolve) => server?.close(() => resolve()));
    // net.Server removes its socket file on close: put a dead one back, as a killed process leaves it.
    const dead = createServer();
    await new Promise<void>((resolve) => dead.listen(path.join(this.dir, `${this.stem}-x.sock`), resolve));
    await fs.rename(path.join(this.dir, `${this.stem}-x.sock`), path.join(this.dir, `${this.stem}.sock`));
    await new Promise<void>((resolve) => dead.close(() => resolve()));
  }
}

function sumOf(parts: MetricJson[][], name: string): number {
  return parts
    .flat()
    .filter((m) => m.name === name)
    .reduce((total, m) => total + m.values.reduce((s, v) => s + v.value, 0), 0);
}

const events = () => {
  const counts = { timedOut: 0, failed: 0 };
  return { counts, events: { timedOut: () => void counts.timedOut++, failed: () => void counts.failed++ } };
};

describe('pm2 collector', () => {
  let dir: string;
  const instances: FakeInstance[] = [];
  const deadline = (): number => performance.now() + 5_000;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'vz-pm2-'));
    await prepareDirectory(dir);
  });
  afterEach(async () => {
    for (const i of instances.splice(0))
      await new Promise<void>((r) => (i.server ? i.server.close(() => r()) : r()));
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(
    stem: string,
    requests: number,
    behaviour: Behaviour = 'answer',
  ): Promise<FakeInstance> {
    const instance = new FakeInstance(dir, stem, behaviour);
    instance.requests = requests;
    await instance.listen();
    instances.push(instance);
    return instance;
  }

  it('sums every instance that answers, and says who answered', async () => {
    await start('w0-101-0000abcd', 5);
    await start('w1-102-0000abcd', 7);
    const { events: e } = events();
    const got = await new Pm2Collector(dir, OPTIONS, e).collect(deadline());
    expect(sumOf(got.parts, 'veza_http_requests_total')).toBe(12);
    expect(got.asked).toBe(2);
    expect([...got.answered]).toEqual(
      expect.arrayContaining([
        ['0', true],
        ['1', true],
      ]),
    );
  });

  it("keeps a killed instance's counters (not its gauges) exactly once, across later scrapes, and removes its files", async () => {
    await start('w0-101-0000abcd', 5);
    const b = await start('w1-102-0000abcd', 7);
    const collector = new Pm2Collector(dir, OPTIONS, events().events);
    expect(sumOf((await collector.collect(deadline())).parts, 'veza_http_requests_total')).toBe(12);
    await b.kill();
    for (let scrape = 0; scrape < 3; scrape++) {
      const got = await collector.collect(deadline());
      expect(sumOf(got.parts, 'veza_http_requests_total')).toBe(12);
      expect(sumOf(got.parts, 'veza_active_sessions')).toBe(1);
      expect(got.asked).toBe(1);
    }
    expect((await fs.readdir(dir)).sort()).toEqual([
      'retired.state',
      'w0-101-0000abcd.sock',
      'w0-101-0000abcd.state',
    ]);
  });

  it('two scrapes that find one dead instance at once fold it once (each sees it once)', async () => {
    await start('w0-101-0000abcd', 5);
    const b = await start('w1-102-0000abcd', 7);
    await b.writeState();
    await b.kill();
    const [x, y] = await Promise.all([
      new Pm2Collector(dir, OPTIONS, events().events).collect(deadline()),
      new Pm2Collector(dir, OPTIONS, events().events).collect(deadline()),
    ]);
    expect(sumOf(x.parts, 'veza_http_requests_total')).toBe(12);
    expect(sumOf(y.parts, 'veza_http_requests_total')).toBe(12);
    const later = await new Pm2Collector(dir, OPTIONS, events().events).collect(deadline());
    expect(sumOf(later.parts, 'veza_http_requests_total')).toBe(12);
  });

  it('an answer received from an instance that another scrape then folds is not counted twice', async () => {
    const a = await start('w0-101-0000abcd', 5);
    await a.writeState();
    // A scrape by another instance folded w0-101 (its name is in retired.state) while this one asked it.
    await fs.writeFile(
      path.join(dir, 'retired.state'),
      JSON.stringify({ type: 'veza-metrics:pm2-retired', v: 1, folded: ['w0-101-0000abcd'], samples: 1 }) +
        '\n' +
        answerLines(0, 5),
    );
    const got = await new Pm2Collector(dir, OPTIONS, events().events).collect(deadline());
    expect(sumOf(got.parts, 'veza_http_requests_total')).toBe(5);
  });

  it('an instance that never answers: its last state is used, the timeout counted, the scrape ends at timeoutMs', async () => {
    await start('w0-101-0000abcd', 5);
    const silent = await start('w1-102-0000abcd', 9, 'silent');
    await silent.writeState();
    const { counts, events: e } = events();
    const got = await new Pm2Collector(dir, OPTIONS, e).collect(deadline());
    expect(sumOf(got.parts, 'veza_http_requests_total')).toBe(14);
    expect(got.answered.get('1')).toBe(false);
    expect(counts).toEqual({ timedOut: 1, failed: 0 });
  });

  it('an endless line is cut at the frame bound, garbage is an error: both counted, the rest summed', async () => {
    await start('w0-101-0000abcd', 5);
    await start('w1-102-0000abcd', 0, 'endless');
    await start('w2-103-0000abcd', 0, 'garbage');
    const { counts, events: e } = events();
    const got = await new Pm2Collector(dir, { ...OPTIONS, timeoutMs: 20_000 }, e).collect(
      deadline() + 20_000,
    );
    expect(sumOf(got.parts, 'veza_http_requests_total')).toBe(5);
    expect(counts).toEqual({ timedOut: 0, failed: 2 });
  });

  it('an answer past maxWorkerSamples is refused as it arrives', async () => {
    const big = await start('w0-101-0000abcd', 1);
    big.behaviour = 'answer';
    const { counts, events: e } = events();
    const got = await new Pm2Collector(dir, { ...OPTIONS, maxWorkerSamples: 2 }, e).collect(deadline());
    expect(sumOf(got.parts, 'veza_http_requests_total')).toBe(0);
    expect(counts.failed).toBe(1);
  });

  it('a retired base at its cap (50,000 samples) is read back whole, and folds go on', async () => {
    const many = (value: number): string => {
      const values = Array.from({ length: 49_990 }, (_, i) => ({ value, labels: { route: `/r${i}` } }));
      const parts: string[] = [];
      for (let at = 0; at < values.length; at += 2_048)
        parts.push(
          JSON.stringify({
            type: 'veza-metrics:part',
            id: 1,
            metrics: [
              {
                registry: 0,
                name: 'veza_http_requests_total',
                help: 'Requests',
                type: 'counter',
                values: values.slice(at, at + 2_048),
              },
            ],
          }),
        );
      parts.push(
        JSON.stringify({ type: 'veza-metrics:collected', id: 1, parts: parts.length, registries: 1 }),
        '',
      );
      return parts.join('\n');
    };
    const options = { ...OPTIONS, maxWorkerSamples: 100_000 };
    await fs.writeFile(path.join(dir, 'w0-101-0000abcd.state'), many(1));
    const first = await new Pm2Collector(dir, options, events().events).collect(deadline());
    expect(sumOf(first.parts, 'veza_http_requests_total')).toBe(49_990);
    // Another instance reads it from disk (not from its cache), and folds one more into it.
    await fs.writeFile(path.join(dir, 'w1-102-0000abcd.state'), many(2));
    const { counts, events: e } = events();
    const second = await new Pm2Collector(dir, options, e).collect(deadline());
    expect(sumOf(second.parts, 'veza_http_requests_total')).toBe(3 * 49_990);
    expect(second.retiredSamples).toBe(49_990);
    expect(counts.failed).toBe(0);
  });

  it(`asks at most ${MAX_PM2_PEERS} instances, however many files the directory holds`, async () => {
    for (let i = 0; i < MAX_PM2_PEERS + 20; i++)
      await fs.writeFile(path.join(dir, `w${i}-${1000 + i}-0000abcd.state`), answerLines(1, 1));
    const got = await new Pm2Collector(dir, OPTIONS, events().events).collect(deadline());
    // Every one is an exited instance (no socket): the first MAX_PM2_PEERS are folded by this scrape.
    expect(sumOf(got.parts, 'veza_http_requests_total')).toBe(MAX_PM2_PEERS);
    const next = await new Pm2Collector(dir, OPTIONS, events().events).collect(deadline());
    expect(sumOf(next.parts, 'veza_http_requests_total')).toBe(MAX_PM2_PEERS + 20);
  });

  it('a lock left by a process that is gone is taken over; one held by a live process is waited for until the deadline', async () => {
    await fs.writeFile(path.join(dir, 'retired.lock'), '2147483646');
    expect(await withLock(dir, performance.now() + 1_000, () => Promise.resolve('ran'))).toEqual({
      done: 'ran',
    });
    await fs.writeFile(path.join(dir, 'retired.lock'), String(process.pid));
    expect(await withLock(dir, performance.now() + 100, () => Promise.resolve('ran'))).toBeUndefined();
  });

  it('refuses a directory others may write to, or a link, naming it and the fix', async () => {
    const open = path.join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    await expect(prepareDirectory(open)).rejects.toThrow(
      `VezaMetrics pm2: the directory "${open}" (option "pm2.directory") is a directory owned by uid ${process.getuid?.()} and must be a directory of uid ${process.getuid?.()} that no one else may write to (mode 0700)`,
    );
    const link = path.join(dir, 'link');
    symlinkSync(dir, link);
    await expect(prepareDirectory(link)).rejects.toThrow(
      `the directory "${link}" (option "pm2.directory") is a link or file`,
    );
  });

  it('splits frames across chunks and refuses a line past MAX_FRAME_BYTES', () => {
    const splitter = new FrameSplitter();
    expect(splitter.push(Buffer.from('{"a":1}\n{"b":'))).toEqual([{ a: 1 }]);
    expect(splitter.push(Buffer.from('2}\n'))).toEqual([{ b: 2 }]);
    const long = new FrameSplitter();
    long.push(Buffer.alloc(MAX_FRAME_BYTES - 1, 0x20));
    expect(() => long.push(Buffer.alloc(2, 0x20))).toThrow(`a line of more than ${MAX_FRAME_BYTES} bytes`);
  });
});
