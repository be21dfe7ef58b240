'use strict';
/**
 * The clients of `bench:scrape`'s "normal route under scrapes", each run in a process of its own so
 * that their work does not delay the application's event loop nor each other's timings.
 *
 *   node bench/scrape-load.js route <port> <path> <ms> <connections>
 *     GETs <path> over <connections> keep-alive connections for <ms>; prints each request's
 *     latency in ms, as JSON.
 *   node bench/scrape-load.js scrape <port> <path> <scrapers>
 *     <scrapers> loops GET <path> as fast as they are answered, reading at full speed, each from an
 *     address of its own in 127.0.0.0/8 (so that no fair share per client applies), until killed;
 *     on SIGTERM prints the count of each status, as JSON.
 */
const { Agent, request } = require('node:http');

const [role, port, path, a, b] = process.argv.slice(2);

function get(options) {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port: Number(port), path, ...options }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => resolve(res.statusCode));
      res.on('error', () => resolve('error'));
    });
    req.on('error', () => resolve('error'));
    req.end();
  });
}

async function route(ms, connections) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const latencies = [];
  const end = performance.now() + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await get({ agent });
      latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: connections }, worker));
  agent.destroy();
  process.stdout.write(JSON.stringify(latencies));
}

function scrape(scrapers) {
  const statuses = {};
  let running = true;
  process.on('SIGTERM', () => {
    running = false;
    process.stdout.write(JSON.stringify(statuses), () => process.exit(0));
  });
  const loop = async (i) => {
    const localAddress = `127.0.${1 + (i >> 8)}.${2 + (i & 255)}`;
    while (running) {
      const status = await get({ agent: false, localAddress });
      statuses[status] = (statuses[status] ?? 0) + 1;
      // A refused scrape is answered at once: do not spin on it.
      if (status !== 200) await new Promise((r) => setTimeout(r, 10));
    }
  };
  for (let i = 0; i < scrapers; i++) void loop(i);
}

if (role === 'route') void route(Number(a), Number(b));
else if (role === 'scrape') scrape(Number(a));
else throw new Error(`unknown role ${role}`);
