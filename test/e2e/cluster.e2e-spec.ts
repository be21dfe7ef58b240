import { fork, type ChildProcess } from 'node:child_process';
import { Agent, request } from 'node:http';
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import { parseExposition, sampleValue } from '../utils/exposition';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/cluster/cluster-app.js');
const WORKERS = 4;
const TIMEOUT_MS = 1_000;

/**
 * Compiles src/ to CommonJS in a directory of this run (inside the repository, so that the
 * workers resolve @nestjs/* and prom-client from its node_modules): each file on its own, as
 * `isolatedModules` allows, without touching the dist/ other runs may be using.
 */
function compileLibrary(out: string): string {
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const file = path.join(dir, name);
      if (statSync(file).isDirectory()) {
        walk(file);
        continue;
      }
      if (!name.endsWith('.ts') || name.endsWith('.d.ts') || name.endsWith('.spec.ts')) continue;
      const { outputText } = ts.transpileModule(readFileSync(file, 'utf8'), {
        fileName: file,
        compilerOptions: {
          module: ts.ModuleKind.CommonJS,
          target: ts.ScriptTarget.ES2022,
          experimentalDecorators: true,
          emitDecoratorMetadata: true,
          esModuleInterop: true,
        },
      });
      const target = path.join(out, path.relative(path.join(ROOT, 'src'), file)).replace(/\.ts$/, '.js');
      mkdirSync(path.dirname(target), { recursive: true });
      writeFileSync(target, outputText);
    }
  };
  walk(path.join(ROOT, 'src'));
  return path.join(out, 'index.js');
}

interface FixtureMessage {
  fixture: 'ready' | 'blocking' | 'exit';
  appUrl?: string;
  metricsUrl?: string;
  workers?: { id: number; pid: number }[];
  worker?: number;
}

/** GETs `url` on `agent`; the body. */
function get(url: string, agent?: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`GET ${url} timed out`)));
    req.on('error', reject);
    req.end();
  });
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

describe('Node cluster: 4 real worker processes, aggregated by the primary', () => {
  const out = path.join(ROOT, '.tmp', `cluster-lib-${process.pid}`);
  let primary: ChildProcess | undefined;
  let output = '';
  let appUrl = '';
  let metricsUrl = '';
  let workers: { id: number; pid: number }[] = [];
  const inbox: FixtureMessage[] = [];
  const waiters: { match: (m: FixtureMessage) => boolean; resolve: (m: FixtureMessage) => void }[] = [];
  const killPrimary = (): void => {
    primary?.kill('SIGKILL');
  };

  /** The next message from the primary that `match`es (already received ones count), within `timeoutMs`. */
  function next(match: (m: FixtureMessage) => boolean, timeoutMs: number): Promise<FixtureMessage> {
    const index = inbox.findIndex(match);
    if (index >= 0) return Promise.resolve(inbox.splice(index, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`no message from the cluster primary within ${timeoutMs} ms:\n${output}`)),
        timeoutMs,
      );
      waiters.push({
        match,
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
      });
    });
  }

  async function scrape(): Promise<string> {
    const { status, body } = await get(metricsUrl);
    if (status !== 200) throw new Error(`GET ${metricsUrl} answered ${status}: ${body}`);
    return body;
  }

  beforeAll(async () => {
    process.once('exit', killPrimary);
    const lib = compileLibrary(out);
    primary = fork(FIXTURE, [], {
      env: { ...process.env, VEZA_METRICS_LIB: lib, WORKERS: String(WORKERS), TIMEOUT_MS: String(TIMEOUT_MS) },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const append = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-32_768);
    };
    primary.stdout?.on('data', append);
    primary.stderr?.on('data', append);
    primary.on('message', (message: FixtureMessage) => {
      const waiter = waiters.findIndex((w) => w.match(message));
      if (waiter >= 0) waiters.splice(waiter, 1)[0]?.resolve(message);
      else inbox.push(message);
    });
    const ready = await next((m) => m.fixture === 'ready', 60_000);
    appUrl = ready.appUrl as string;
    metricsUrl = ready.metricsUrl as string;
    workers = ready.workers ?? [];
  }, 90_000);

  afterAll(async () => {
    if (primary && primary.exitCode === null && primary.signalCode === null) {
      const exited = new Promise<void>((resolve) => primary?.once('exit', () => resolve()));
      primary.kill('SIGTERM');
      const timer = setTimeout(killPrimary, 5_000);
      await exited;
      clearTimeout(timer);
    }
    process.off('exit', killPrimary);
    rmSync(out, { recursive: true, force: true });
  }, 15_000);

  it('serves from the primary exactly the 10,000 requests the 4 workers counted', async () => {
    expect(workers.map((w) => w.id)).toEqual([1, 2, 3, 4]);
    const pids = await load(appUrl, 10_000);
    // Every worker served some: the sum is over 4 registries, not one.
    expect([...pids].sort()).toEqual(workers.map((w) => String(w.pid)).sort());

    const text = await scrape();
    expect(total(text, 'veza_http_requests_total', { endpoint: '/ping' })).toBe(10_000);
    expect(sampleValue(text, 'veza_http_requests_total', { method: 'GET', endpoint: '/ping', status: '2xx' })).toBe(10_000);
    expect(sampleValue(text, 'veza_http_request_duration_seconds_count', { method: 'GET', endpoint: '/ping' })).toBe(10_000);
    expect(sampleValue(text, 'veza_http_request_duration_seconds_bucket', { method: 'GET', endpoint: '/ping', le: '+Inf' })).toBe(10_000);
    expect(sampleValue(text, 'veza_users_registered_total')).toBe(WORKERS);
    // Gauges: summed (worker n holds n users), except the health status: the worst any worker sees.
    expect(sampleValue(text, 'veza_active_users')).toBe(1 + 2 + 3 + 4);
    expect(sampleValue(text, 'veza_health_check_status', { service: 'db' })).toBe(0);
    expect(sampleValue(text, 'veza_metrics_cluster_workers')).toBe(WORKERS);
    expect(sampleValue(text, 'veza_metrics_cluster_worker_timeouts_total')).toBe(0);
    expect(sampleValue(text, 'veza_metrics_cluster_worker_errors_total')).toBe(0);
    // One family per name, each once, as Prometheus requires.
    const types = text.split('\n').filter((l) => l.startsWith('# TYPE '));
    expect(new Set(types).size).toBe(types.length);
  }, 120_000);

  it('keeps the counters monotonic across repeated scrapes while traffic flows', async () => {
    const before = total(await scrape(), 'veza_http_requests_total', { endpoint: '/ping' });
    let done = false;
    const traffic = load(appUrl, 2_000, 8).finally(() => (done = true));
    const seen: number[] = [before];
    while (!done) {
      const text = await scrape();
      seen.push(total(text, 'veza_http_requests_total', { endpoint: '/ping' }));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await traffic;
    seen.push(total(await scrape(), 'veza_http_requests_total', { endpoint: '/ping' }));
    expect(seen.length).toBeGreaterThan(3);
    for (let i = 1; i < seen.length; i++) expect(seen[i]).toBeGreaterThanOrEqual(seen[i - 1]);
    expect(seen[seen.length - 1]).toBe(before + 2_000);
  }, 120_000);

  it('reports a worker that does not answer in time in a self-metric, instead of hanging the scrape', async () => {
    const before = await scrape();
    const timeouts = sampleValue(before, 'veza_metrics_cluster_worker_timeouts_total') as number;
    const requests = total(before, 'veza_http_requests_total', { endpoint: '/ping' });
    const stuck = workers[0]?.id; // worker 1

    primary?.send({ cmd: 'block', worker: stuck, ms: 4 * TIMEOUT_MS });
    await next((m) => m.fixture === 'blocking' && m.worker === stuck, 10_000);
    const started = Date.now();
    const during = await scrape();
    const elapsed = Date.now() - started;

    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - 50);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 1_500);
    expect(sampleValue(during, 'veza_metrics_cluster_worker_timeouts_total')).toBe(timeouts + 1);
    // The stuck worker's last answer stands in for it: nothing goes back.
    expect(total(during, 'veza_http_requests_total', { endpoint: '/ping' })).toBe(requests);
    expect(sampleValue(during, 'veza_users_registered_total')).toBe(WORKERS);

    // Once it is free again, it answers again.
    await new Promise((resolve) => setTimeout(resolve, 3 * TIMEOUT_MS + 200));
    const after = await scrape();
    expect(sampleValue(after, 'veza_metrics_cluster_worker_timeouts_total')).toBe(timeouts + 1);
    expect(total(after, 'veza_http_requests_total', { endpoint: '/ping' })).toBe(requests);
  }, 60_000);

  it("keeps an exited worker's counters in the sum, so it never goes back", async () => {
    const before = await scrape();
    const requests = total(before, 'veza_http_requests_total', { endpoint: '/ping' });
    const victim = workers[1]?.id; // worker 2

    primary?.send({ cmd: 'kill', worker: victim });
    await next((m) => m.fixture === 'exit' && m.worker === victim, 10_000);

    const after = await scrape();
    expect(sampleValue(after, 'veza_metrics_cluster_workers')).toBe(WORKERS - 1);
    expect(total(after, 'veza_http_requests_total', { endpoint: '/ping' })).toBe(requests);
    expect(sampleValue(after, 'veza_users_registered_total')).toBe(WORKERS);
    // Its gauges go with it: worker 2 held 2 users.
    expect(sampleValue(after, 'veza_active_users')).toBe(1 + 3 + 4);

    await load(appUrl, 300, 6);
    expect(total(await scrape(), 'veza_http_requests_total', { endpoint: '/ping' })).toBe(requests + 300);
  }, 60_000);
});
