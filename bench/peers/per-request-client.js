'use strict';
/**
 * The "one connection per request" client of `npm run bench:peers`: `node per-request-client.js <url>
 * <connections> <seconds>`. Keeps <connections> requests in flight, each on a connection of its own
 * (no agent: Node's client sends `Connection: close` and opens a new socket per request), for
 * <seconds>, then prints one JSON line: { requests, rps, p99 (ms), non2xx, errors }. autocannon's
 * `--reconnectRate 1` would do the same, but autocannon 8 does not count the responses on which it
 * resets the connection (every response, then).
 */
const http = require('node:http');

const [url, connections = '50', seconds = '2'] = process.argv.slice(2);
const { hostname, port, pathname } = new URL(url);
const until = performance.now() + Number(seconds) * 1000;
const latencies = [];
let non2xx = 0;
let errors = 0;

function one() {
  return new Promise((resolve) => {
    const start = performance.now();
    const req = http.request({ host: hostname, port, path: pathname, agent: false }, (res) => {
      if (res.statusCode < 200 || res.statusCode >= 300) non2xx++;
      res.resume();
      res.on('end', () => {
        latencies.push(performance.now() - start);
        resolve();
      });
      res.on('error', () => {
        errors++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end();
  });
}

async function worker() {
  while (performance.now() < until) await one();
}

const begun = performance.now();
Promise.all(Array.from({ length: Number(connections) }, worker)).then(() => {
  const elapsed = (performance.now() - begun) / 1000;
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.99))] ?? NaN;
  process.stdout.write(
    `${JSON.stringify({ requests: latencies.length, rps: latencies.length / elapsed, p99, non2xx, errors })}\n`,
  );
});
