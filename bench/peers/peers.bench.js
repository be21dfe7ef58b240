'use strict';
/**
 * `npm run bench:peers`: this library against its peers, in one run (issue #16, item 1).
 *
 * The same trivial Nest app (bench/peers/server.ts: `GET /` answering a small JSON, and the
 * parameterised `GET /items/:id`) on Express and on Fastify, once per variant: bare Nest; this
 * library with its defaults and with `defaultMetrics: false`; `@willsoto/nestjs-prometheus` with the
 * HTTP interceptor its users write; `express-prom-bundle` 8 (Express) or `fastify-metrics` 13
 * (Fastify) as their READMEs say; OpenTelemetry's Node SDK with the HTTP instrumentation and the
 * Prometheus exporter (what nestjs-otel 8 tells users to do for HTTP metrics).
 *
 * Every round starts a fresh server process per variant (pinned to CPU 1 with taskset when there are
 * 2 CPUs and taskset exists) and warms each up with autocannon; then, for each client in turn, one
 * load generator (bench/peers/interleaved-client.js, pinned to CPU 0) drives all of the round's
 * servers in turn, in slices of BENCH_PEERS_SLICE_MS (250 ms), the order reversed on every pass
 * (A B C, C B A, ...), until each had BENCH_PEERS_SECONDS of load: whatever slows this virtual
 * machine for a while (it swings by a factor of two within seconds) slows every variant alike. Two
 * clients: keep-alive connections, and one connection per request. The server's own
 * `process.cpuUsage()` and the heap bytes V8 allocated (GC profiler) are read before and after, so the
 * report gives, per adapter, client and variant: requests/s, p99 latency, server CPU µs per request
 * (user and system), how busy the server's CPU was while driven, heap bytes per request, and the
 * throughput ratio to bare (median over rounds of variant/bare in the same round). Fresh processes
 * every round because two processes of the same server differ by several percent for as long as
 * they live: the median over rounds is the variant's, not one process' luck.
 *
 * Then what each variant records: in the first round, before the warm-up, each fresh server gets a
 * known set of requests (three `GET /`, `GET /items/1` and `/items/2`, `GET /items/missing` whose
 * handler throws a 404, and the unmatched `GET /nope/123`), and its exposition is scraped and read:
 * the HTTP family's labels, the requests it recorded, their status classes against the true ones,
 * whether the route template `/items/:id` or raw paths appear. A cheaper peer that records less is
 * not a faster equal.
 *
 * Environment: BENCH_PEERS_SECONDS of load per variant, client and round (2.5), BENCH_PEERS_SLICE_MS (250),
 * BENCH_PEERS_ROUNDS (8), BENCH_PEERS_WARMUP seconds (1), BENCH_PEERS_CONNECTIONS (50), BENCH_PEERS_ADAPTERS (express,fastify), BENCH_PEERS_VARIANTS (all of
 * the adapter's), BENCH_PEERS_CLIENTS (keep-alive,per-request). `npm run bench` runs it last with
 * BENCH_PEERS_VARIANTS=bare,veza,veza-no-default-metrics, for issue #16's ratio targets.
 */
const { spawn } = require('node:child_process');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { ROOT, CAN_PIN, pinned, onLines, stopServer, autocannon, median } = require('../runner');

const SECONDS = Number(process.env.BENCH_PEERS_SECONDS ?? 2.5);
const SLICE_MS = Number(process.env.BENCH_PEERS_SLICE_MS ?? 250);
const ROUNDS = Number(process.env.BENCH_PEERS_ROUNDS ?? 8);
const WARMUP = Number(process.env.BENCH_PEERS_WARMUP ?? 1);
const CONNECTIONS = Number(process.env.BENCH_PEERS_CONNECTIONS ?? 50);
const ADAPTERS = (process.env.BENCH_PEERS_ADAPTERS ?? 'express,fastify').split(',');
const CLIENTS = (process.env.BENCH_PEERS_CLIENTS ?? 'keep-alive,per-request').split(',');
const ALL_VARIANTS = {
  express: ['bare', 'veza', 'veza-no-default-metrics', 'willsoto', 'prom-bundle', 'otel'],
  fastify: ['bare', 'veza', 'veza-no-default-metrics', 'willsoto', 'fastify-metrics', 'otel'],
};
/**
 * Selectable by BENCH_PEERS_VARIANTS only: ablations that tell where a cost comes from (server.ts).
 * At most 8 variants per run: in the palindrome order a server waits up to 2 × (variants − 1)
 * slices between two of its own, and past Node's 5 s keep-alive timeout its connections close.
 */
const ABLATIONS = {
  express: [
    'veza-no-http',
    'veza-idle',
    'veza-catalog',
    'veza-no-outbound',
    'veza-http-only',
    'bare-handle-wrap',
    'bare-socket-fields',
    'bare-res-close',
    'bare-hooks',
    'bare-exception-hook',
    'bare-default-metrics',
    'bare-copy',
    'bare-copy-2',
  ],
  fastify: [
    'veza-no-http',
    'veza-idle',
    'empty-hooks',
    'veza-catalog',
    'veza-no-outbound',
    'veza-http-only',
    'bare-default-metrics',
    'bare-copy',
    'bare-copy-2',
  ],
};
const variantsOf = (adapter) =>
  process.env.BENCH_PEERS_VARIANTS
    ? process.env.BENCH_PEERS_VARIANTS.split(',').filter(
        (v) => ALL_VARIANTS[adapter].includes(v) || ABLATIONS[adapter].includes(v),
      )
    : ALL_VARIANTS[adapter];
const LABELS = {
  bare: 'bare Nest',
  veza: 'this library, defaults',
  'veza-no-default-metrics': 'this library, defaultMetrics: false',
  willsoto: '@willsoto/nestjs-prometheus + interceptor',
  'prom-bundle': 'express-prom-bundle 8',
  'fastify-metrics': 'fastify-metrics 13',
  otel: 'OpenTelemetry SDK (HTTP instr. + Prometheus exporter)',
  'veza-no-http': 'this library, http: false (ablation)',
  'empty-hooks': 'bare Nest + 2 empty Fastify hooks (ablation)',
  'veza-idle': 'this library, http: false, defaultMetrics: false (ablation)',
  'veza-catalog': 'this library, every feature off: the catalog only (ablation)',
  'veza-no-outbound': 'this library, outbound: false (ablation)',
  'veza-http-only': 'this library, HTTP recording and /metrics only (ablation)',
  'bare-handle-wrap': 'bare Nest + pass-through app.handle wrap (ablation)',
  'bare-socket-fields': 'bare Nest + app.handle wrap writing 2 socket fields (ablation)',
  'bare-res-close': "bare Nest + app.handle wrap adding res.on('close') (ablation)",
  'bare-hooks': "bare Nest + the recorder's Express hook, record() empty (ablation)",
  'bare-exception-hook': "bare Nest + Nest's exception handler wrapped (ablation)",
  'bare-default-metrics': 'bare Nest + prom-client default metrics (ablation)',
  'bare-copy': 'bare Nest, a second server (ablation: position in the order)',
  'bare-copy-2': 'bare Nest, a third server (ablation: position in the order)',
};
/** Issue #16, item 2: this library's ratio to bare, median of the rounds. */
const TARGETS = { 'keep-alive': 0.98, 'per-request': 0.97 };
const SERVER_CPU = CAN_PIN ? '1' : undefined;
const CLIENT_CPU = CAN_PIN ? '0' : undefined;

/** A free TCP port on loopback (for the OpenTelemetry exporter's own server). */
function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

async function startServer(adapter, variant) {
  const env = { ...process.env };
  const preload = ['-r', path.join(__dirname, 'register.js')];
  let metricsPort;
  if (variant === 'otel') {
    metricsPort = await freePort();
    env.BENCH_OTEL_PORT = String(metricsPort);
    preload.push('-r', path.join(__dirname, 'otel-preload.js'));
  }
  const [command, args] = pinned(SERVER_CPU, process.execPath, [
    '--no-warnings',
    ...preload,
    path.join(__dirname, 'server.ts'),
    adapter,
    variant,
  ]);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, env, stdio: ['pipe', 'pipe', 'inherit'] });
    const server = { child, adapter, variant, port: 0, metricsPort, waiting: [] };
    onLines(child, (line) => {
      const port = /^PORT (\d+)/.exec(line);
      if (port) {
        server.port = Number(port[1]);
        server.metricsPort ??= server.port;
        resolve(server);
      }
      const stats = /^STATS (\d+) (\d+) (-?\d+)/.exec(line);
      if (stats)
        server.waiting.shift()?.({
          user: Number(stats[1]),
          system: Number(stats[2]),
          allocated: Number(stats[3]),
        });
    });
    child.on('exit', (code) =>
      reject(new Error(`${adapter}/${variant} exited with ${code} before listening`)),
    );
  });
}

function statsOf(server) {
  return new Promise((resolve) => {
    server.waiting.push(resolve);
    server.child.stdin.write('stats\n');
  });
}

/** Warms a fresh server up: `GET /` with keep-alive (autocannon, on CLIENT_CPU) for `seconds`. */
async function warmUp(port, seconds) {
  await autocannon(`http://127.0.0.1:${port}/`, CONNECTIONS, seconds, CLIENT_CPU);
}

/**
 * Drives every port in turn, in slices of SLICE_MS (bench/peers/interleaved-client.js, on CLIENT_CPU),
 * for SECONDS of load per port in all; resolves to one { requests, ms, rps, p99, non2xx, errors } per port.
 */
async function interleaved(servers, client) {
  const config = {
    ports: servers.map((s) => s.port),
    mode: client,
    connections: CONNECTIONS,
    sliceMs: SLICE_MS,
    slices: Math.max(1, Math.round((SECONDS * 1000) / SLICE_MS)),
    warmupSlices: 1,
  };
  const [command, args] = pinned(CLIENT_CPU, process.execPath, [
    path.join(__dirname, 'interleaved-client.js'),
    JSON.stringify(config),
  ]);
  const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = [];
  const exited = new Promise((resolve, reject) => {
    child.on('error', reject);
    // 'close', not 'exit': its last line is read by then.
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`the load generator exited with ${code}`)),
    );
  });
  const ready = new Promise((resolve) =>
    onLines(child, (line) => {
      if (line === 'READY') resolve();
      else lines.push(line);
    }),
  );
  await Promise.race([ready, exited]);
  const before = await Promise.all(servers.map(statsOf));
  child.stdin.write('go\n');
  await exited;
  const after = await Promise.all(servers.map(statsOf));
  return { before, runs: JSON.parse(lines.join('')), after };
}

const fmt = (n, d = 0) =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d })
    : '–';

/** The known request set of the recording check, and what a faithful recorder counts. */
const KNOWN = [
  ['/', 200],
  ['/', 200],
  ['/', 200],
  ['/items/1', 200],
  ['/items/2', 200],
  ['/items/missing', 404],
  ['/nope/123', 404],
];

/** Parses the exposition's samples: [{ name, labels, value }]. */
function samples(text) {
  const out = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels = {};
    for (const l of (m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]] = l[2];
    out.push({ name: m[1], labels, value: Number(m[3]), line });
  }
  return out;
}

/** The variant's per-request family: its request counter, else its duration histogram's _count. */
function requestFamily(all) {
  const names = [...new Set(all.map((s) => s.name))];
  return (
    names.find((n) => n === 'veza_http_requests_total') ??
    names.find((n) => n === 'http_requests_total') ??
    names.find((n) => /^http_\w*duration\w*_count$/.test(n))
  );
}

const STATUS_LABELS = ['status', 'status_code', 'code', 'http_status_code', 'http_response_status_code'];
const ROUTE_LABELS = ['endpoint', 'route', 'path', 'http_route', 'url'];

/** Sends KNOWN to a fresh server, scrapes its exposition, and says what it recorded. */
async function recording(server) {
  for (const [url, status] of KNOWN) {
    const response = await fetch(`http://127.0.0.1:${server.port}${url}`);
    await response.arrayBuffer();
    if (response.status !== status)
      throw new Error(`${server.variant}: GET ${url} answered ${response.status}`);
  }
  await new Promise((resolve) => setTimeout(resolve, 100));
  const response = await fetch(`http://127.0.0.1:${server.metricsPort}/metrics`);
  const text = await response.text();
  const all = samples(text);
  const family = requestFamily(all);
  if (family === undefined)
    return { family: '(no HTTP family)', series: [], summary: 'records no HTTP request' };
  // The scrape itself is not one of the known requests.
  const series = all.filter(
    (s) => s.name === family && !Object.values(s.labels).some((v) => v.includes('metrics')),
  );
  const labelNames = [...new Set(series.flatMap((s) => Object.keys(s.labels)))];
  const recorded = series.reduce((n, s) => n + s.value, 0);
  const statusLabel = STATUS_LABELS.find((l) => labelNames.includes(l));
  const classes = {};
  for (const s of series) {
    const c = statusLabel ? `${String(s.labels[statusLabel])[0]}xx` : 'none';
    classes[c] = (classes[c] ?? 0) + s.value;
  }
  const expected = { '2xx': 5, '4xx': 2 };
  // True status: no class holds more requests than were answered with it (a 404 a handler threw,
  // recorded as 200, shows as one 2xx too many). Requests not recorded at all are counted apart.
  const trueStatus =
    statusLabel !== undefined && Object.keys(classes).every((c) => classes[c] <= (expected[c] ?? 0));
  const routeLabel = ROUTE_LABELS.find((l) => labelNames.includes(l));
  const values = routeLabel ? series.map((s) => s.labels[routeLabel]) : [];
  const templates = values.some((v) => v === '/items/:id');
  const raw = values.filter((v) => /\/items\/(1|2|missing)$|\/nope\/123$/.test(v));
  const summary =
    `${fmt(recorded)} of ${KNOWN.length} requests recorded${recorded < KNOWN.length ? ` (${KNOWN.length - recorded} missed)` : ''}; labels ${labelNames.join(', ') || '(none)'}; ` +
    `status classes ${Object.entries(classes)
      .map(([c, n]) => `${c} ×${fmt(n)}`)
      .join(', ')} (answered: 2xx ×5, 4xx ×2) → true status ${trueStatus ? 'yes' : 'NO'}; ` +
    `route template /items/:id ${templates ? 'yes' : 'no'}` +
    (routeLabel
      ? `; raw paths in labels: ${raw.length ? [...new Set(raw)].join(' ') : 'none'}`
      : '; no route label');
  return { family, series: series.map((s) => s.line), summary };
}

async function main() {
  const started = Date.now();
  console.log(
    `# bench:peers — ${new Date().toISOString()}, node ${process.version}, ${os.cpus().length} CPUs (${os.cpus()[0]?.model.trim()}), ` +
      `load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n` +
      `${CONNECTIONS} connections, ${ROUNDS} rounds; per round, fresh server processes, ${WARMUP} s of warm-up each (autocannon), then ` +
      `${SECONDS} s of load per variant and client, the variants driven in turn in slices of ${SLICE_MS} ms (bench/peers/interleaved-client.js); ` +
      (CAN_PIN
        ? 'servers pinned to CPU 1, load generators to CPU 0 (taskset)'
        : 'NOT pinned (needs taskset and 2 CPUs)') +
      `; client ${require('../client-switch').benchClient}\n`,
  );
  const results = {}; // adapter → client → variant → [run]
  const recorded = {}; // adapter → variant → recording
  for (let round = 1; round <= ROUNDS; round++) {
    for (const adapter of ADAPTERS) {
      const variants = variantsOf(adapter);
      const servers = [];
      try {
        // Started together (each is measured alone, later); a server that fails to start stops the run.
        const starting = variants.map((variant) => startServer(adapter, variant));
        for (const settled of await Promise.allSettled(starting)) {
          if (settled.status === 'fulfilled') servers.push(settled.value);
        }
        const failed = (await Promise.allSettled(starting)).find((s) => s.status === 'rejected');
        if (failed) throw failed.reason;
        if (round === 1) {
          recorded[adapter] = {};
          for (const s of servers) recorded[adapter][s.variant] = await recording(s);
        }
        for (const s of servers) await warmUp(s.port, WARMUP);
        const clients = round % 2 === 1 ? CLIENTS : [...CLIENTS].reverse();
        for (const client of clients) {
          const order = round % 2 === 1 ? servers : [...servers].reverse();
          const { before, runs, after } = await interleaved(order, client);
          order.forEach((s, i) => {
            const r = runs[i];
            if (r.non2xx > 0 || r.errors > 0)
              throw new Error(`${adapter}/${s.variant}: ${r.non2xx} responses not 2xx, ${r.errors} errors`);
            const cpu = after[i].user - before[i].user + after[i].system - before[i].system;
            r.user = (after[i].user - before[i].user) / r.requests;
            r.system = (after[i].system - before[i].system) / r.requests;
            r.busy = cpu / 1e3 / r.ms;
            r.heap = (after[i].allocated - before[i].allocated) / r.requests;
            ((results[adapter] ??= {})[client] ??= {})[s.variant] ??= [];
            results[adapter][client][s.variant].push(r);
          });
          for (const s of servers) {
            const r = results[adapter][client][s.variant].at(-1);
            console.log(
              `  round ${round} ${adapter.padEnd(7)} ${client.padEnd(11)} ${s.variant.padEnd(23)} ${fmt(r.rps).padStart(7)} req/s  ` +
                `p99 ${fmt(r.p99, 1).padStart(5)} ms  CPU ${fmt(r.user, 1).padStart(5)} + ${fmt(r.system, 1).padStart(5)} µs/req  ` +
                `busy ${fmt(r.busy * 100).padStart(3)}%  heap ${fmt(r.heap).padStart(6)} B/req`,
            );
          }
        }
      } finally {
        for (const s of servers) await stopServer(s);
      }
    }
  }
  report(results, recorded, (Date.now() - started) / 1000);
}

function report(results, recorded, elapsed) {
  console.log(
    `\n## Per adapter, client and variant (medians over ${ROUNDS} rounds; ratio: median over rounds of variant/bare req/s in the same round)\n`,
  );
  console.log(
    '| adapter | client | variant | req/s | ratio to bare | p99 (ms) | user µs/req | system µs/req | server CPU busy | heap B/req |',
  );
  console.log('|---|---|---|---:|---:|---:|---:|---:|---:|---:|');
  const verdicts = [];
  for (const adapter of ADAPTERS) {
    for (const client of CLIENTS) {
      const byVariant = results[adapter]?.[client];
      if (!byVariant) continue;
      const bare = byVariant.bare;
      for (const variant of variantsOf(adapter)) {
        const rs = byVariant[variant];
        if (!rs) continue;
        const ratio = bare ? median(rs.map((r, i) => r.rps / bare[i].rps)) : NaN;
        console.log(
          `| ${adapter} | ${client} | ${LABELS[variant]} | ${fmt(median(rs.map((r) => r.rps)))} | ${ratio.toFixed(3)} | ` +
            `${fmt(median(rs.map((r) => r.p99)), 1)} | ${fmt(median(rs.map((r) => r.user)), 1)} | ${fmt(median(rs.map((r) => r.system)), 1)} | ` +
            `${fmt(median(rs.map((r) => r.busy)) * 100)}% | ${fmt(median(rs.map((r) => r.heap)))} |`,
        );
        if (variant.startsWith('veza') && bare) {
          const target = TARGETS[client];
          verdicts.push(
            `- ${adapter}, ${client}, ${LABELS[variant]}: ratio ${ratio.toFixed(3)} (rounds: ${rs
              .map((r, i) => (r.rps / bare[i].rps).toFixed(3))
              .join(' ')}), target >= ${target}: ${ratio >= target ? 'met' : 'NOT met'}`,
          );
        }
      }
    }
  }
  console.log('\n## Issue #16 item 2 targets (throughput ratio to bare, median of the A B A B rounds)\n');
  for (const v of verdicts) console.log(v);
  console.log(
    "\nserver CPU busy: the server process's CPU time over the run's seconds; well under 100% means the server was\n" +
      'not the bottleneck (the load generator or the machine was), and then req/s ratios understate differences.',
  );
  console.log('\n## What each variant records (scraped after a known set of 7 requests on a fresh server)\n');
  for (const adapter of ADAPTERS) {
    for (const [variant, r] of Object.entries(recorded[adapter] ?? {})) {
      console.log(`- ${adapter}, ${LABELS[variant]}: ${r.family}: ${r.summary}`);
      for (const line of r.series) console.log(`      ${line}`);
    }
  }
  console.log(
    `\nknown set: GET / ×3, GET /items/1, GET /items/2 (200), GET /items/missing (the handler throws a 404), GET /nope/123 (no route, 404).` +
      `\nfinished in ${fmt(elapsed)} s; load average now ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
