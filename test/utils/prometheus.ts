/**
 * A real Prometheus server for tests (and for `npm run sample:prometheus`): the `prometheus` binary
 * of the Debian package, on loopback, with a configuration written here (1 s scrape and evaluation
 * intervals), a temporary TSDB directory and optional rule files. Everything it starts is stopped
 * and removed by `stop()`, and killed at the latest when this process exits.
 *
 * Plain Node only (no jest): scripts/ compiles this file too.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** One sample of an instant vector. */
export interface VectorSample {
  metric: Record<string, string>;
  /** The sample's value (`NaN`, `+Inf` and `-Inf` as numbers). */
  value: number;
  /** Its timestamp, in seconds since the epoch. */
  timestamp: number;
}

/** The envelope of `/api/v1/query`, as Prometheus answers it (also on an error: `status: 'error'`). */
export interface QueryResponse {
  status: 'success' | 'error';
  data?: { resultType: 'vector' | 'matrix' | 'scalar' | 'string'; result: unknown };
  errorType?: string;
  error?: string;
  warnings?: string[];
}

/** A target of `/api/v1/targets`. */
export interface ActiveTarget {
  scrapePool: string;
  scrapeUrl: string;
  labels: Record<string, string>;
  health: 'up' | 'down' | 'unknown';
  lastError: string;
  lastScrape: string;
}

export interface PrometheusOptions {
  /** `host:port` of the apps to scrape (their `/metrics`). */
  targets: string[];
  /** The `job` label of those targets. Default `veza-api`. */
  job?: string;
  /** The path scraped on each target. Default `/metrics`. */
  metricsPath?: string;
  /** Absolute paths of rule files to load (alerting or recording rules). */
  ruleFiles?: string[];
  /** Scrape and rule evaluation interval. Default `1s`. */
  interval?: string;
  /** The `prometheus` binary. Default: `prometheus` on the PATH. */
  binary?: string;
  /** The port to listen on (127.0.0.1). Default: a free one. */
  port?: number;
  /** How long to wait for `/-/ready`. Default 30 s. */
  readyTimeoutMs?: number;
  /** Feature flags (`--enable-feature=…`), e.g. `['exemplar-storage']`. */
  features?: string[];
  /**
   * `global.external_labels`. They also seed the scrape offsets: two servers on this machine that
   * scrape one target at the same interval do it at the same instant unless their external labels
   * differ (an endpoint that admits one scrape per client address at a time answers one of them 503).
   */
  externalLabels?: Record<string, string>;
  /** More command-line flags, e.g. `['--web.enable-remote-write-receiver']`. */
  flags?: string[];
  /** A bearer token sent with every scrape (`authorization` of the scrape config). */
  bearerToken?: string;
}

export interface PrometheusServer {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  /** The configuration file written for this server. */
  readonly configFile: string;
  /** What the server logged (the last 64 KiB), for failure messages. */
  logs(): string;
  /** An instant query (`/api/v1/query`, evaluated now or at `time`); the envelope, even on a PromQL error. */
  query(promql: string, time?: Date): Promise<QueryResponse>;
  /** An instant query that must succeed with a vector: its samples. */
  vector(promql: string): Promise<VectorSample[]>;
  /** An instant query that must answer exactly one sample: its value. */
  value(promql: string): Promise<number>;
  /**
   * Polls `promql` (every 200 ms, at most `timeoutMs`) until `predicate` holds for its samples, and
   * returns them; rejects with the last answer when it never does.
   */
  waitFor(
    promql: string,
    predicate: (samples: VectorSample[]) => boolean,
    timeoutMs?: number,
  ): Promise<VectorSample[]>;
  /** The active targets. */
  targets(): Promise<ActiveTarget[]>;
  /** True when there is at least one active target and every one is `up`. */
  targetsUp(): Promise<boolean>;
  /**
   * Waits until every target has been scraped (successfully) after this call began, and that
   * scrape's samples are stored: a query made then sees everything the apps counted before the call.
   */
  scrapedAfterNow(timeoutMs?: number): Promise<void>;
  /** Stops the server (SIGTERM, then SIGKILL after 5 s) and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

/** Kills every server still running when the process exits (a failed test, a Ctrl-C). */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

/** Ports handed out by {@link freePort}: below Linux's ephemeral range (32768 and up). */
const PORTS_FROM = 20_000;
const PORTS = 12_000;
/**
 * Under jest, each worker (JEST_WORKER_ID 1, 2, ...) takes its ports from a slice of its own, so
 * that two specs running at once never pick the same port; elsewhere, the whole range.
 */
const WORKER = Number(process.env.JEST_WORKER_ID) || 0;
const SLICES = 8;
const SLICE = WORKER ? PORTS / SLICES : PORTS;
const SLICE_FROM = PORTS_FROM + (WORKER ? ((WORKER - 1) % SLICES) * SLICE : 0);
/** The next port to try, in turn through the slice from a random start: never one handed out just before. */
let nextPort = Math.floor(Math.random() * SLICE);

/**
 * A TCP port free on 127.0.0.1 right now, below Linux's ephemeral range (32768 and up): a port the OS
 * picked for port 0 could be handed again to a server listening on port 0 before its user binds it.
 */
export function freePort(): Promise<number> {
  const attempt = (tries: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const port = SLICE_FROM + (nextPort++ % SLICE);
      const server = createServer();
      server.unref();
      server.once('error', (error) => (tries < 20 ? resolve(attempt(tries + 1)) : reject(error)));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(port)));
    });
  return attempt(0);
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function toNumber(value: string): number {
  if (value === '+Inf') return Infinity;
  if (value === '-Inf') return -Infinity;
  return Number(value);
}

/** The configuration Prometheus reads, as JSON (a subset of YAML). */
export function prometheusConfig(options: PrometheusOptions): string {
  const interval = options.interval ?? '1s';
  return JSON.stringify(
    {
      global: {
        scrape_interval: interval,
        scrape_timeout: interval,
        evaluation_interval: interval,
        ...(options.externalLabels ? { external_labels: options.externalLabels } : {}),
      },
      rule_files: options.ruleFiles ?? [],
      scrape_configs: [
        {
          job_name: options.job ?? 'veza-api',
          metrics_path: options.metricsPath ?? '/metrics',
          static_configs: [{ targets: options.targets }],
          ...(options.bearerToken
            ? { authorization: { type: 'Bearer', credentials: options.bearerToken } }
            : {}),
        },
      ],
    },
    null,
    2,
  );
}

/** The version of a `prometheus` binary (`prometheus --version`: `2.42.0+ds` gives `[2, 42]`). */
export function prometheusVersion(binary = 'prometheus'): [major: number, minor: number] {
  const run = spawnSync(binary, ['--version'], { encoding: 'utf8' });
  const m = /version (\d+)\.(\d+)/.exec(`${run.stdout}${run.stderr}`);
  if (!m) throw new Error(`${binary} --version printed no version: ${run.stdout}${run.stderr}`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * Whether a Prometheus of this version, scraping native histograms, stores only the native series
 * of a histogram that has a native part (2.40 to 2.44: `scrape_classic_histograms` came in 2.45).
 */
export function dropsClassicOfNative([major, minor]: [number, number]): boolean {
  return major === 2 && minor < 45;
}

/** Starts Prometheus and resolves once it answers `/-/ready`. Retries on another port if its port was taken meanwhile. */
export async function startPrometheus(options: PrometheusOptions): Promise<PrometheusServer> {
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(options);
    } catch (error) {
      lastError = error;
      if (options.port || !(error instanceof Error) || !/address already in use/i.test(error.message))
        throw error;
    }
  }
  throw lastError;
}

async function startOnce(options: PrometheusOptions): Promise<PrometheusServer> {
  installExitHook();
  const dir = mkdtempSync(join(tmpdir(), 'veza-prometheus-'));
  const configFile = join(dir, 'prometheus.yml');
  writeFileSync(configFile, prometheusConfig(options));
  const port = options.port ?? (await freePort());
  const url = `http://127.0.0.1:${port}`;

  let log = '';
  const child = spawn(
    options.binary ?? 'prometheus',
    [
      `--config.file=${configFile}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--storage.tsdb.retention.time=1d`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--web.enable-lifecycle',
      ...(options.features?.length ? [`--enable-feature=${options.features.join(',')}`] : []),
      ...(options.flags ?? []),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  running.add(child);
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-65536);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exit = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      running.delete(child);
      resolve();
    });
  });
  let spawnError: NodeJS.ErrnoException | undefined;
  child.once('error', (error) => {
    spawnError = error;
    running.delete(child);
  });

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (!stopped) {
      stopped = true;
      if (!exited && !spawnError) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exit;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    }
  };

  const getJson = async <T>(path: string): Promise<T> => {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(10_000) });
    return (await res.json()) as T;
  };

  // Ready: /-/ready answers 200 once the TSDB is open and the rules are loaded.
  const readyTimeout = options.readyTimeoutMs ?? 30_000;
  const deadline = Date.now() + readyTimeout;
  for (;;) {
    if (spawnError || exited) {
      await stop();
      const missing = spawnError?.code === 'ENOENT' ? ' (install the Debian package "prometheus")' : '';
      const why = spawnError ? spawnError.message + missing : `exited with ${exited?.code ?? exited?.signal}`;
      throw new Error(`prometheus did not start (${why}):\n${log}`);
    }
    try {
      const res = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) });
      await res.text();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`prometheus was not ready on ${url} within ${readyTimeout} ms:\n${log}`);
    }
    await sleep(100);
  }

  const query = async (promql: string, time?: Date): Promise<QueryResponse> => {
    const params = new URLSearchParams({ query: promql });
    if (time) params.set('time', String(time.getTime() / 1000));
    const res = await fetch(`${url}/api/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: params.toString(),
      signal: AbortSignal.timeout(10_000),
    });
    return (await res.json()) as QueryResponse;
  };

  const vector = async (promql: string): Promise<VectorSample[]> => {
    const answer = await query(promql);
    if (answer.status !== 'success' || answer.data?.resultType !== 'vector') {
      throw new Error(`query ${promql} answered ${JSON.stringify(answer)}`);
    }
    return (answer.data.result as { metric: Record<string, string>; value: [number, string] }[]).map((s) => ({
      metric: s.metric,
      value: toNumber(s.value[1]),
      timestamp: s.value[0],
    }));
  };

  const targets = async (): Promise<ActiveTarget[]> =>
    (await getJson<{ data: { activeTargets: ActiveTarget[] } }>('/api/v1/targets?state=active')).data
      .activeTargets;

  return {
    url,
    configFile,
    logs: () => log,
    query,
    vector,
    async value(promql) {
      const samples = await vector(promql);
      if (samples.length !== 1)
        throw new Error(`query ${promql} answered ${samples.length} samples: ${JSON.stringify(samples)}`);
      return samples[0].value;
    },
    async waitFor(promql, predicate, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      let last: unknown;
      for (;;) {
        try {
          const samples = await vector(promql);
          if (predicate(samples)) return samples;
          last = samples;
        } catch (error) {
          last = error instanceof Error ? error.message : error;
        }
        if (Date.now() > until)
          throw new Error(
            `${promql} did not reach the expected state within ${timeoutMs} ms; last answer: ${JSON.stringify(last)}`,
          );
        await sleep(200);
      }
    },
    targets,
    async targetsUp() {
      const active = await targets();
      return active.length > 0 && active.every((t) => t.health === 'up');
    },
    async scrapedAfterNow(timeoutMs = 15_000) {
      // `up` is appended with the scrape's samples, in the same commit, stamped with the scrape's
      // start: once every target's `up` is stamped after `since` (and is 1), that scrape is stored.
      const since = Date.now() / 1000;
      const until = Date.now() + timeoutMs;
      for (;;) {
        const active = await targets();
        const stamps = await vector('timestamp(up)');
        const fresh = (t: ActiveTarget): boolean =>
          t.health === 'up' &&
          stamps.some(
            (s) =>
              s.metric.instance === t.labels.instance && s.metric.job === t.labels.job && s.value > since,
          );
        if (active.length > 0 && active.every(fresh)) return;
        if (Date.now() > until)
          throw new Error(
            `no successful scrape of every target within ${timeoutMs} ms: ${JSON.stringify(active)}`,
          );
        await sleep(50);
      }
    },
    stop,
  };
}
