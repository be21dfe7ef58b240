/**
 * Issue #25, remote write at the caps: every labelled catalog metric filled to its series cap (as
 * bench:scrape's "caps" part), then sends to a local receiver that takes each body (204) and counts
 * its bytes, alternated with renders of the text exposition of the same registry (what one scrape of
 * `/metrics` costs), so both see the same machine. Per send: wall time, CPU, worst event-loop delay
 * (target: at most 20 ms, the scrape's) and, on Linux, the most time the main thread ran in one turn
 * (the same target, unaffected by a loaded machine descheduling the process: bench/turns.ts), the
 * WriteRequest's size before and after snappy; then the snappy compressor alone on that
 * WriteRequest (MB/s). `npm run bench:remote-write`; BENCH_SENDS (10) scales it.
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram } from 'prom-client';
import { RemoteWriter, VEZA_CATALOG, VezaMetricsModule, VezaMetricsRegistry } from '../src';
import { recycleChunks } from '../src/exposition/render-exposition';
import { VEZA_METRICS_RESOLVED_OPTIONS } from '../src/options/inject-options';
import type { ResolvedOptions } from '../src/options/resolve-options';
import { snappyCompress } from '../src/push/snappy';
import { snappyDecompress } from '../test/utils/snappy-decode';
import { watchTurns } from './turns';

const SENDS = Number(process.env.BENCH_SENDS ?? 10);
const STALL_TARGET_MS = 20;
const verdict = (ok: boolean): string => (ok ? 'met' : 'NOT met');
const percentile = (sorted: number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;

function fillCatalog(metrics: VezaMetricsRegistry, cap: number): number {
  let total = 0;
  for (const row of VEZA_CATALOG) {
    if (row.labelNames.length === 0) continue;
    const metric = metrics.get(row.name as never) as unknown as
      Counter<string> | Gauge<string> | Histogram<string>;
    for (let i = 0; i < cap + 100; i++) {
      const labels = Object.fromEntries(row.labelNames.map((l) => [l, `${l}-${i}`]));
      if (metric instanceof Histogram) metric.observe(labels, i / 1000);
      else if (metric instanceof Gauge) metric.set(labels, i);
      else metric.inc(labels);
    }
    total += cap + 1;
  }
  return total;
}

async function main(): Promise<void> {
  console.log(
    `# bench:remote-write (node ${process.version}, ${new Date().toISOString()}, load ${(await import('node:os')).loadavg()[0].toFixed(1)})`,
  );
  const bodies: Buffer[] = [];
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.length = 0;
      bodies.push(Buffer.concat(chunks));
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const { port } = receiver.address() as AddressInfo;
  @Module({
    imports: [
      VezaMetricsModule.forRoot({
        defaultLabels: { service: 'veza-api' },
        remoteWrite: {
          url: `http://127.0.0.1:${port}/api/v1/write`,
          intervalMs: 2_000_000_000,
          timeoutMs: 60_000,
        },
      }),
    ],
  })
  class BenchModule {}
  const app = await NestFactory.create(BenchModule, { logger: false });
  await app.listen(0, '127.0.0.1');
  const metrics = app.get(VezaMetricsRegistry);
  const cap = app.get<ResolvedOptions>(VEZA_METRICS_RESOLVED_OPTIONS).cardinality.maxSeries;
  const total = fillCatalog(metrics, cap);
  const writer = app.get(RemoteWriter);
  const measured = { send: [] as number[], text: [] as number[] };
  const cpu = { send: 0, text: 0 };
  const stalls = { send: 0, text: 0 };
  const turns = { send: 0, text: 0 };
  let schedstat = true;
  let textBytes = 0;
  for (let i = 0; i < SENDS * 2 + 2; i++) {
    const kind = i % 2 === 0 ? 'send' : 'text';
    const used = process.cpuUsage();
    const started = performance.now();
    const { result, stallMs, ranMs } = await watchTurns(async () => {
      if (kind === 'send') return writer.send();
      const chunks = await metrics.renderChunks('text');
      textBytes = chunks.reduce((s, c) => s + c.length, 0);
      recycleChunks(chunks);
      return true;
    });
    if (!result) throw new Error('a send failed');
    const wall = performance.now() - started;
    const spent = process.cpuUsage(used);
    if (i < 2) continue;
    measured[kind].push(wall);
    cpu[kind] += (spent.user + spent.system) / 1000;
    stalls[kind] = Math.max(stalls[kind], stallMs);
    if (ranMs === undefined) schedstat = false;
    else turns[kind] = Math.max(turns[kind], ranMs);
  }
  const compressed = bodies[0];
  const request = snappyDecompress(compressed);
  for (const list of Object.values(measured)) list.sort((a, b) => a - b);
  console.log(
    `\n## Remote write at the caps (${total.toLocaleString('en')} labelled series; ${SENDS} sends alternated with ${SENDS} text renders, in process)`,
  );
  console.log(
    `- send (render protobuf, WriteRequest, snappy, POST to a local receiver): p50 ${percentile(measured.send, 50).toFixed(1)} ms wall, CPU ${(cpu.send / SENDS).toFixed(1)} ms per send; worst event-loop delay ${stalls.send.toFixed(1)} ms (target at most ${STALL_TARGET_MS} ms: ${verdict(stalls.send <= STALL_TARGET_MS)})`,
  );
  if (schedstat)
    console.log(
      `  - the main thread's most time on a CPU in one turn: ${turns.send.toFixed(1)} ms in a send (at most ${STALL_TARGET_MS} ms: ${verdict(turns.send <= STALL_TARGET_MS)}), ${turns.text.toFixed(1)} ms in a text render (the work of one turn, GC included; a loaded machine descheduling the process not)`,
    );
  console.log(
    `- text render of the same registry (a scrape's work): p50 ${percentile(measured.text, 50).toFixed(1)} ms wall, CPU ${(cpu.text / SENDS).toFixed(1)} ms; worst event-loop delay ${stalls.text.toFixed(1)} ms; ${(textBytes / 2 ** 20).toFixed(1)} MiB`,
  );
  console.log(
    `- WriteRequest ${(request.length / 2 ** 20).toFixed(1)} MiB, ${(compressed.length / 2 ** 20).toFixed(1)} MiB after snappy (${(compressed.length / request.length).toFixed(3)})`,
  );
  const runs: number[] = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    snappyCompress(request);
    runs.push(performance.now() - t);
  }
  runs.sort((a, b) => a - b);
  const p50 = percentile(runs, 50);
  console.log(
    `- snappy (ours, pure TS) alone on it: p50 ${p50.toFixed(1)} ms, ${(request.length / 2 ** 20 / (p50 / 1000)).toFixed(0)} MiB/s (sliced per 64 KiB fragment in a send)`,
  );
  await app.close();
  receiver.close();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
