/**
 * test/fixtures/pm2/pm2-app.js started by a real pm2 ({@link Pm2}) in cluster mode, for the pm2
 * specs: its instances as pm2 lists them and as they announced themselves, requests on a new
 * connection each (so that pm2's daemon hands them to the instances in turn), scrapes of the shared
 * port or of one instance in particular (its `direct` listener), and the expectations every spec
 * makes of an exposition (the exact count of the GET /hit answered).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import * as path from 'node:path';
import { parseExposition, sampleValue } from './exposition';
import type { Pm2 } from './pm2';
import { freePort } from './prometheus';
import { until } from './until';

export const PM2_FIXTURE = path.resolve(__dirname, '../fixtures/pm2/pm2-app.js');

export interface Answer {
  status: number;
  body: string;
  /** The `x-veza-instance` header: the NODE_APP_INSTANCE whose app answered ('' from `metricsServer`). */
  instance: string;
}

/**
 * GET on a connection of its own (no keep-alive: pm2's daemon hands the next request's connection to
 * the next instance), failing after `timeoutMs` (a guard against a hang, no speed bound).
 */
export function get(url: string, headers: Record<string, string> = {}, timeoutMs = 120_000): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { agent: false, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body,
          instance: String(res.headers['x-veza-instance'] ?? ''),
        }),
      );
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

/** The sum of the samples named `name` (a histogram's `_count`, `_bucket`, too) that have `labels`. */
export function total(text: string, name: string, labels: Record<string, string> = {}): number {
  return [...parseExposition(text).values()]
    .flatMap((family) => family.samples)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

/** `veza_metrics_pm2_worker_up` by its `pm2_instance` label (NODE_APP_INSTANCE). */
export function up(text: string): Record<string, number> {
  const samples = parseExposition(text).get('veza_metrics_pm2_worker_up')?.samples ?? [];
  return Object.fromEntries(samples.map((s) => [s.labels.pm2_instance, s.value]));
}

/** `{ 0: 1, 1: 1, ... }`: every one of `count` instances up. */
export function allUp(count: number): Record<string, number> {
  return Object.fromEntries(Array.from({ length: count }, (_, k) => [String(k), 1]));
}

/** The instance and pid a file of the module's directory belongs to (`w<instance>-<pid>-<nonce>.sock|.state`). */
export function ownerOf(name: string): { instance: number; pid: number } | undefined {
  const match = /^w(\d+)-(\d+)-[0-9a-f]+\.(?:sock|state)$/.exec(name);
  return match ? { instance: Number(match[1]), pid: Number(match[2]) } : undefined;
}

/** One instance as the fixture announced it (CONTROL_DIR/<instance>-<pid>.json). */
export interface Announced {
  instance: number;
  pid: number;
  /** Port of the listener that hands its connections to this instance's Nest app. */
  direct: number;
  /** Port of the fixture's control routes (/block, /drain). */
  control: number;
}

export interface Pm2FixtureOptions {
  /** The pm2 app's name. */
  name: string;
  instances: number;
  /** The compiled library (compileLibrary of test/utils/cluster-fixture.ts). */
  lib: string;
  /** A directory of this spec's own, for the app's files. */
  dir: string;
  /** `auth.bearerToken` of the module. */
  token: string;
  /** `pm2.timeoutMs` of the module. */
  timeoutMs: number;
  /** Also serve `metricsServer` on a port of its own (shared by the instances like the app's). */
  metricsServer?: boolean;
  adapter?: 'express' | 'fastify';
}

/** The fixture app under pm2. */
export class Pm2Fixture {
  /** Every GET /hit answered 200 through {@link hits} (or counted by the spec): what every exposition must sum. */
  sent = 0;
  /** The instances' announcements. */
  readonly controlDir: string;
  /** The module's `pm2.directory`. */
  readonly socketDir: string;

  private constructor(
    private readonly pm2: Pm2,
    readonly options: Pm2FixtureOptions,
    /** The app's shared port, `http://127.0.0.1:PORT`. */
    readonly appUrl: string,
    /** `metricsServer`'s shared `/metrics`, or ''. */
    readonly metricsServerUrl: string,
  ) {
    this.controlDir = path.join(options.dir, 'control');
    this.socketDir = path.join(options.dir, 'pm2');
  }

  /** `pm2 start` of the fixture with `options`; resolves once every instance is up and ready. */
  static async start(pm2: Pm2, options: Pm2FixtureOptions): Promise<Pm2Fixture> {
    const port = await freePort();
    const metricsPort = options.metricsServer ? await freePort() : 0;
    const fixture = new Pm2Fixture(
      pm2,
      options,
      `http://127.0.0.1:${port}`,
      metricsPort ? `http://127.0.0.1:${metricsPort}/metrics` : '',
    );
    mkdirSync(fixture.controlDir, { recursive: true });
    mkdirSync(fixture.socketDir, { recursive: true, mode: 0o700 });
    await pm2.start({
      name: options.name,
      script: PM2_FIXTURE,
      instances: options.instances,
      env: {
        VEZA_METRICS_LIB: options.lib,
        PORT: String(port),
        ...(metricsPort ? { METRICS_PORT: String(metricsPort) } : {}),
        ...(options.adapter ? { ADAPTER: options.adapter } : {}),
        TOKEN: options.token,
        VEZA_PM2_DIR: fixture.socketDir,
        PM2_TIMEOUT_MS: String(options.timeoutMs),
        CONTROL_DIR: fixture.controlDir,
      },
    });
    await fixture.live();
    return fixture;
  }

  /** `Authorization` with the token. */
  get auth(): Record<string, string> {
    return { authorization: `Bearer ${this.options.token}` };
  }

  /** GET /hit `count` times over `concurrency` lanes, each on a new connection: how many each instance answered. */
  async hits(count: number, concurrency = 8): Promise<Map<string, number>> {
    const byInstance = new Map<string, number>();
    let started = 0;
    const lane = async (): Promise<void> => {
      while (started < count) {
        started++;
        const { status, body } = await get(`${this.appUrl}/hit`);
        if (status !== 200) throw new Error(`GET /hit answered ${status}: ${body}`);
        this.sent++;
        byInstance.set(body, (byInstance.get(body) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, lane));
    return byInstance;
  }

  /** An authorized scrape of `url` that must answer 200. */
  async scrape(url: string): Promise<Answer> {
    const answer = await get(url, this.auth);
    if (answer.status !== 200) throw new Error(`GET ${url} answered ${answer.status}: ${answer.body}`);
    return answer;
  }

  /** The exposition counts every GET /hit answered (`expected`), on every instance that ever served one. */
  expectExact(text: string, expected = this.sent): void {
    expect(total(text, 'veza_http_requests_total', { endpoint: '/hit' })).toBe(expected);
    expect(total(text, 'veza_http_request_duration_seconds_count', { endpoint: '/hit' })).toBe(expected);
    expect(total(text, 'veza_http_request_duration_seconds_bucket', { endpoint: '/hit', le: '+Inf' })).toBe(
      expected,
    );
  }

  /** `GET /metrics` of instance `a` (its own Nest app, through its direct listener). */
  directUrl(a: Announced): string {
    return `http://127.0.0.1:${a.direct}/metrics`;
  }

  /** Scrapes each instance directly: each answers (having just asked all the others), each exact, all up. */
  async expectEachExact(instances: Announced[]): Promise<void> {
    for (const a of instances) {
      const { body } = await this.scrape(this.directUrl(a));
      this.expectExact(body);
      expect(sampleValue(body, 'veza_metrics_pm2_workers')).toBe(this.options.instances);
      expect(up(body)).toEqual(allUp(this.options.instances));
    }
  }

  /**
   * The instances, once pm2 lists each one online and its process has announced itself (none of
   * `gone`, the pids of processes that must have been replaced), by NODE_APP_INSTANCE.
   */
  async live(gone: number[] = []): Promise<Announced[]> {
    const { name, instances: count } = this.options;
    let found: Announced[] = [];
    const restarts = new Map<number, number>();
    await until(
      async () => {
        const listed = await this.pm2.list(name);
        // An app that cannot start (an option refused, a missing module) is restarted by pm2 again
        // and again: that is the failure, reported at once with its logs.
        for (const i of listed) {
          if (!restarts.has(i.pmId)) restarts.set(i.pmId, i.restarts);
          if (i.restarts > (restarts.get(i.pmId) ?? 0) + 3)
            throw new Error(`pm2 restarted instance ${i.instance} of ${name} over and over (crash loop)`);
        }
        const ready = this.announced();
        found = listed.filter((i) => i.status === 'online' && ready.has(i.pid)).map((i) => ready.get(i.pid)!);
        return (
          listed.length === count &&
          found.length === count &&
          found.every((a, k) => a.instance === k && !gone.includes(a.pid))
        );
      },
      `pm2 listing ${count} instances of ${name} online and ready${gone.length ? ` (none of ${gone.join(', ')})` : ''}`,
      90_000,
    ).catch((error: Error) => {
      throw new Error(`${error.message}\n${this.pm2.logs()}`);
    });
    return found;
  }

  /** Blocks instance `a`'s event loop until `file` exists. */
  async block(a: Announced, file: string): Promise<void> {
    const { status } = await get(`http://127.0.0.1:${a.control}/block?until=${encodeURIComponent(file)}`);
    expect(status).toBe(200);
  }

  /** Takes instance `a` out of pm2's rotation (closes its app's server); resolves once its last connection ended. */
  async drain(a: Announced): Promise<void> {
    const { status } = await get(`http://127.0.0.1:${a.control}/drain`);
    expect(status).toBe(200);
  }

  /**
   * Whether a request to `pid`'s socket in the module's `pm2.directory` is waiting, unread (`pid`
   * being blocked): `ss` (iproute2, the `ss` argument: its path) shows the bytes in the receive
   * queue of a connection to that socket, or a connection in its accept queue.
   */
  requestWaiting(ss: string, pid: number): boolean {
    const socket = readdirSync(this.socketDir).find(
      (name) => ownerOf(name)?.pid === pid && name.endsWith('.sock'),
    );
    if (!socket)
      throw new Error(
        `no socket of pid ${pid} in ${this.socketDir}: ${readdirSync(this.socketDir).join(', ')}`,
      );
    const full = path.join(this.socketDir, socket);
    const run = spawnSync(ss, ['-xaH'], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`ss -xaH failed: ${run.stderr}`);
    // u_str ESTAB 66 0 /dir/w2-123.sock 4084341 * 4085478: state, Recv-Q, Send-Q, local path, ...
    return run.stdout.split('\n').some((line) => {
      const [, state, recvQ, , local] = line.trim().split(/\s+/);
      return local === full && (state === 'ESTAB' || state === 'LISTEN') && Number(recvQ) > 0;
    });
  }

  /**
   * Waits until the module's directory holds only the files of `instances` (a socket and a state
   * file each) and of the retired base, scraping the shared port meanwhile (a scrape folds the
   * instances that exited): what an exited instance leaves is removed, so the directory stays
   * bounded however many instances come and go.
   */
  async expectOnlyFilesOf(instances: Announced[]): Promise<void> {
    const live = (name: string): boolean =>
      instances.some((a) => ownerOf(name)?.pid === a.pid && ownerOf(name)?.instance === a.instance);
    const extra = (): string[] =>
      readdirSync(this.socketDir).filter((name) => !live(name) && !name.startsWith('retired.'));
    await until(async () => {
      if (extra().length === 0) return true;
      await this.scrape(`${this.appUrl}/metrics`);
      return extra().length === 0;
    }, `the files of exited instances removed from ${this.socketDir}`).catch((error: Error) => {
      throw new Error(`${error.message}: ${extra().join(', ')}`);
    });
    // A socket and a state file each.
    for (const a of instances) {
      const own = readdirSync(this.socketDir).filter((name) => ownerOf(name)?.pid === a.pid);
      expect(own.map((name) => path.extname(name)).sort()).toEqual(['.sock', '.state']);
    }
  }

  /** The state files of the module's directory and their modification times (ms). */
  stateFiles(): Record<string, number> {
    return Object.fromEntries(
      readdirSync(this.socketDir)
        .filter((name) => name.endsWith('.state'))
        .map((name) => [name, statSync(path.join(this.socketDir, name)).mtimeMs]),
    );
  }

  /** Everything the fixture announced, by pid. */
  private announced(): Map<number, Announced> {
    const found = new Map<number, Announced>();
    for (const name of readdirSync(this.controlDir)) {
      if (!name.endsWith('.json')) continue;
      const entry = JSON.parse(readFileSync(path.join(this.controlDir, name), 'utf8')) as Announced;
      found.set(entry.pid, entry);
    }
    return found;
  }
}
