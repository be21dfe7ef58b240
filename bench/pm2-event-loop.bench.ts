/**
 * pm2's cluster mode at its caps, the event loop of the scraped instance (src/pm2/): the longest
 * delay `perf_hooks.monitorEventLoopDelay` sees while (1) one 4 MiB frame (MAX_FRAME_BYTES) is split
 * and parsed, (2) a scrape reads a retired base of 50,000 samples (MAX_RETIRED_SAMPLES) and folds an
 * exited instance of 50,000 samples into it, (3) a scrape re-reads the same base after another
 * instance changed it. Each figure beside the delay of the same loop idle, and `met` / `not met`
 * against the library's 20 ms target for one event-loop slice.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { mkdtempSync, promises as fs, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { Pm2Collector } from '../src/pm2/pm2-collector';
import { prepareDirectory } from '../src/pm2/pm2-directory';
import { FrameSplitter, MAX_FRAME_BYTES } from '../src/pm2/pm2-frames';
import { MAX_PART_SAMPLES } from '../src/cluster/cluster-protocol';
import { MAX_RETIRED_SAMPLES } from '../src/cluster/retired-series';

const TARGET_MS = 20;

/** The median over `ROUNDS` runs of the worst delay seen while `work` runs (a busy machine's noise left out). */
const ROUNDS = 5;
async function worstDelay(work: () => unknown): Promise<number> {
  const worst: number[] = [];
  for (let round = 0; round < ROUNDS; round++) worst.push(await worstDelayOnce(work));
  return worst.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)];
}

async function worstDelayOnce(work: () => unknown): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  histogram.enable();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await work();
  await new Promise((resolve) => setTimeout(resolve, 20));
  histogram.disable();
  return histogram.max / 1e6;
}

/** An answer of `samples` counter samples (one series each), in parts, as a state file holds it. */
function answerText(samples: number, offset: number, header?: unknown): string {
  const lines: string[] = header === undefined ? [] : [JSON.stringify(header)];
  let parts = 0;
  for (let at = 0; at < samples; at += MAX_PART_SAMPLES) {
    const values = [];
    for (let i = at; i < Math.min(samples, at + MAX_PART_SAMPLES); i++)
      values.push({
        value: i + offset,
        labels: { route: `/api/v1/items/${i}`, method: 'GET', status: '2xx' },
      });
    lines.push(
      JSON.stringify({
        type: 'veza-metrics:part',
        id: 1,
        metrics: [{ registry: 0, name: 'vz_requests_total', help: 'Requests', type: 'counter', values }],
      }),
    );
    parts++;
  }
  lines.push(JSON.stringify({ type: 'veza-metrics:collected', id: 1, parts, registries: 1 }));
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const rows: [string, number][] = [];
  rows.push(['idle loop (no work)', await worstDelay(() => new Promise((r) => setTimeout(r, 200)))]);

  // (0) One part as instances send them (MAX_PART_SAMPLES samples).
  const part = Buffer.from(answerText(MAX_PART_SAMPLES, 0).split('\n')[0] + '\n');
  rows.push([
    `one part of ${MAX_PART_SAMPLES} samples (${(part.length / 1024).toFixed(0)} KiB) split and parsed`,
    await worstDelay(() => new FrameSplitter().push(part)),
  ]);

  // (1) One line at MAX_FRAME_BYTES: an array of small objects, JSON's costliest shape per byte.
  const item = '{"value":1,"labels":{"a":"b"}},';
  const body = item.repeat(Math.floor((MAX_FRAME_BYTES - 64) / item.length));
  const line = Buffer.from(`{"type":"x","values":[${body.slice(0, -1)}]}\n`);
  rows.push([
    `one ${(line.length / 1048576).toFixed(2)} MiB frame split and parsed`,
    await worstDelay(() => new FrameSplitter().push(line)),
  ]);

  // (2) A scrape that reads a base of 50,000 samples and folds an exited instance of 50,000 samples;
  // (3) another instance's scrape reading the base that fold wrote.
  const options = { timeoutMs: 2_000, aggregators: {}, maxWorkerSamples: 250_000 };
  const events = { timedOut: () => undefined, failed: () => undefined };
  const header = { type: 'veza-metrics:pm2-retired', v: 1, folded: [], samples: MAX_RETIRED_SAMPLES };
  const base = answerText(MAX_RETIRED_SAMPLES, 0, header);
  const exited = answerText(MAX_RETIRED_SAMPLES, 1);
  let dir = '';
  const fresh = async (): Promise<void> => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    dir = mkdtempSync(path.join(tmpdir(), 'vz-pm2-bench-'));
    await prepareDirectory(dir);
    await fs.writeFile(path.join(dir, 'retired.state'), base);
    await fs.writeFile(path.join(dir, 'w1-4000001.state'), exited);
  };
  try {
    rows.push([
      `a scrape folding ${MAX_RETIRED_SAMPLES} samples into a base of ${MAX_RETIRED_SAMPLES}`,
      await worstDelay(async () => {
        await fresh();
        await new Pm2Collector(dir, options, events).collect(performance.now() + 60_000);
      }),
    ]);
    rows.push([
      `a scrape reading a base of ${MAX_RETIRED_SAMPLES} samples`,
      await worstDelay(async () => {
        await fresh();
        await new Pm2Collector(dir, options, events).collect(performance.now() + 60_000);
        await new Pm2Collector(dir, options, events).collect(performance.now() + 60_000);
      }),
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }

  console.log(
    `pm2 cluster mode, worst event-loop delay (monitorEventLoopDelay, resolution 1 ms); target ${TARGET_MS} ms`,
  );
  for (const [name, ms] of rows)
    console.log(
      `  ${name.padEnd(70)} ${ms.toFixed(1).padStart(7)} ms  ${ms <= TARGET_MS ? 'met' : 'not met'}`,
    );
}

void main();
