/**
 * `npm run monitoring:screenshot`: renders docs/images/prometheus-graph.png, the README's picture of
 * Prometheus graphing the Veza metrics. Starts the sample app and Prometheus (scripts/sample-stack.ts),
 * drives traffic through every endpoint for a while, then screenshots Prometheus' graph page with
 * headless Chromium.
 *
 * Environment: CHROMIUM (default `chromium`), WARMUP_SECONDS (traffic before the screenshot, default 150).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from './repo-root';
import { startSampleStack } from './sample-stack';

const EXPR = 'sum by (endpoint) (rate(veza_http_requests_total[20s]))';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs headless Chromium on `url` and writes its screenshot to `file`. */
async function screenshot(url: string, file: string): Promise<void> {
  const profile = mkdtempSync(join(tmpdir(), 'veza-chromium-'));
  try {
    const child = spawn(
      process.env.CHROMIUM ?? 'chromium',
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        `--screenshot=${file}`,
        '--window-size=1400,900',
        // Lets the page's scripts fetch the query range and draw before the capture.
        '--virtual-time-budget=10000',
        url,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let log = '';
    child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString('utf8')).slice(-8192)));
    process.once('exit', () => child.kill('SIGKILL'));
    const timer = setTimeout(() => child.kill('SIGKILL'), 90_000);
    const code = await new Promise<number | null>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (c) => resolve(c));
    });
    clearTimeout(timer);
    if (code !== 0) throw new Error(`chromium exited with ${code}:\n${log}`);
    if (statSync(file).size < 10_000) throw new Error(`${file} is suspiciously small:\n${log}`);
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const out = join(repoRoot(), 'docs', 'images', 'prometheus-graph.png');
  mkdirSync(join(repoRoot(), 'docs', 'images'), { recursive: true });
  const warmup = Number(process.env.WARMUP_SECONDS ?? 150);
  const stack = await startSampleStack({ trafficEveryMs: 1000 });
  try {
    process.stdout.write(
      `sample app ${stack.appUrl}, Prometheus ${stack.prometheus.url}: driving traffic for ${warmup} s…\n`,
    );
    await sleep(warmup * 1000);
    if (stack.rounds() === 0) throw new Error('no traffic round succeeded');
    const url = `${stack.prometheus.url}/graph?g0.expr=${encodeURIComponent(EXPR)}&g0.tab=0&g0.stacked=0&g0.range_input=${Math.max(1, Math.floor(warmup / 60))}m`;
    await screenshot(url, out);
    process.stdout.write(`${stack.rounds()} rounds of traffic; wrote ${out} from ${url}\n`);
  } finally {
    await stack.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
