/**
 * The sample app (compiled: sample-app/dist/main.js) and a real Prometheus scraping it with the alert
 * rules of monitoring/alerts.yml, both on 127.0.0.1; optionally with continuous traffic. What
 * `npm run sample:prometheus` and `npm run monitoring:screenshot` start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { freePort, startPrometheus, type PrometheusServer } from '../test/utils/prometheus';
import { repoRoot } from './repo-root';
import { openChat, trafficRound, transportsRound } from './sample-traffic';

export interface SampleStackOptions {
  /** The sample app's port. Default: a free one. */
  appPort?: number;
  /** Prometheus' port. Default: a free one. */
  prometheusPort?: number;
  /** Drive a round of traffic every this many milliseconds (0: none). Default 0. */
  trafficEveryMs?: number;
  /** `express` (default) or `fastify`. */
  adapter?: string;
}

export interface SampleStack {
  appUrl: string;
  prometheus: PrometheusServer;
  /** Rounds of traffic completed so far. */
  rounds(): number;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Starts the compiled sample app on 127.0.0.1:`port` and resolves once /metrics answers. */
async function startSampleApp(
  port: number,
  adapter: string,
): Promise<{ child: ChildProcess; url: string; logs: () => string }> {
  const main = join(repoRoot(), 'sample-app', 'dist', 'main.js');
  if (!existsSync(main))
    throw new Error(`${main} is missing: run "npm run build && tsc -p sample-app/tsconfig.json" first`);
  let log = '';
  // The notifications microservice gets a free port too, unless NOTIFICATIONS_PORT says which.
  const notifications = process.env.NOTIFICATIONS_PORT ?? String(await freePort());
  const child = spawn(process.execPath, [main], {
    cwd: repoRoot(),
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      SAMPLE_ADAPTER: adapter,
      NOTIFICATIONS_PORT: notifications,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const append = (chunk: Buffer): void => {
    log = (log + chunk.toString('utf8')).slice(-65536);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  process.once('exit', () => child.kill('SIGKILL'));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`the sample app exited (${child.exitCode ?? child.signalCode}):\n${log}`);
    try {
      const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(2000) });
      await res.text();
      if (res.status === 200) return { child, url, logs: () => log };
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the sample app did not answer on ${url}/metrics within 30 s:\n${log}`);
    }
    await sleep(100);
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

export async function startSampleStack(options: SampleStackOptions = {}): Promise<SampleStack> {
  const app = await startSampleApp(options.appPort ?? (await freePort()), options.adapter ?? 'express');
  let prometheus: PrometheusServer;
  try {
    prometheus = await startPrometheus({
      targets: [new URL(app.url).host],
      ruleFiles: [join(repoRoot(), 'monitoring', 'alerts.yml')],
      ...(options.prometheusPort ? { port: options.prometheusPort } : {}),
    });
  } catch (error) {
    await stopChild(app.child);
    throw error;
  }

  let rounds = 0;
  let stopping = false;
  let chat: Socket[] = [];
  let loop: Promise<void> = Promise.resolve();
  const every = options.trafficEveryMs ?? 0;
  if (every > 0) {
    chat = await openChat(app.url, 2);
    loop = (async () => {
      while (!stopping) {
        try {
          await trafficRound(app.url, { chat });
          await transportsRound(app.url);
          rounds += 1;
        } catch (error) {
          if (!stopping)
            process.stderr.write(
              `traffic round failed: ${error instanceof Error ? error.message : String(error)}\n`,
            );
        }
        for (let waited = 0; waited < every && !stopping; waited += 100) await sleep(100);
      }
    })();
  }

  return {
    appUrl: app.url,
    prometheus,
    rounds: () => rounds,
    async stop() {
      stopping = true;
      await loop;
      for (const socket of chat) socket.disconnect();
      await prometheus.stop();
      await stopChild(app.child);
    },
  };
}
