'use strict';
/**
 * The load generator of `npm run bench:peers`: drives several servers in turn, in short slices, so
 * that whatever slows the machine for a while (a virtual machine's neighbours, its clock, the host)
 * slows every variant alike.
 *
 * `node interleaved-client.js '<json>'` with { ports, mode, connections, sliceMs, slices, warmupSlices }:
 * each pass gives every port one slice of `sliceMs` during which `connections` requests of `GET /`
 * are kept in flight, then waits for the ones in flight to end; passes alternate the order of the
 * ports (A B C, C B A, ...). `mode` is `keep-alive` (one HTTP/1.1 connection per slot, opened once
 * and reused) or `per-request` (a new TCP connection per request, `Connection: close`). The first
 * `warmupSlices` passes are not counted; after them it prints `READY` and waits for a line on stdin
 * (the caller reads the servers' counters meanwhile). Then it prints one JSON line: per port, { requests, ms (time
 * spent driving it), p99 (ms), non2xx, errors }.
 *
 * Plain sockets, not Node's HTTP client: the client shares the machine with the server, and the less
 * CPU it spends per request, the more of a server's cost the figures can show.
 */
const net = require('node:net');

const config = JSON.parse(process.argv[2]);
const { ports, mode, connections, sliceMs, slices, warmupSlices = 1 } = config;
const KEEP_ALIVE = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n', 'latin1');
const CLOSE = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n', 'latin1');

/**
 * Splits complete responses off the front of `text`; returns [statuses, rest]. Responses carry a
 * Content-Length (both adapters' JSON replies do); a chunked one ends at its last chunk.
 */
function responses(text) {
  const statuses = [];
  for (;;) {
    const headEnd = text.indexOf('\r\n\r\n');
    if (headEnd < 0) break;
    const head = text.slice(0, headEnd);
    const length = /\r\ncontent-length: *(\d+)/i.exec(head);
    let end;
    if (length) end = headEnd + 4 + Number(length[1]);
    else {
      const last = text.indexOf('\r\n0\r\n\r\n', headEnd);
      if (last < 0) break;
      end = last + 7;
    }
    if (text.length < end) break;
    statuses.push(Number(head.slice(9, 12)));
    text = text.slice(end);
  }
  return [statuses, text];
}

function newTally() {
  return { requests: 0, ms: 0, latencies: [], non2xx: 0, errors: 0 };
}

/** One keep-alive connection: send() one request, `onDone(status|undefined)` when it is answered. */
function keepAliveConnection(port) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    let buffer = '';
    const connection = {
      onDone: null,
      send() {
        // A connection the server closed (it should not: a slice's gaps stay under Node's 5 s
        // keep-alive timeout) counts as an error instead of hanging the slice.
        if (socket.destroyed) setImmediate(() => connection.onDone?.(undefined));
        else socket.write(KEEP_ALIVE);
      },
    };
    socket.setEncoding('latin1');
    socket.on('data', (chunk) => {
      const [statuses, rest] = responses(buffer + chunk);
      buffer = rest;
      for (const status of statuses) connection.onDone?.(status);
    });
    socket.on('error', (error) => {
      connection.onDone?.(undefined);
      reject(error);
    });
    socket.on('close', () => connection.onDone?.(undefined));
    socket.on('connect', () => resolve(Object.assign(connection, { socket })));
  });
}

/** One request on a connection of its own; resolves with its status, or undefined on an error. */
function perRequest(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    let done = false;
    const finish = (status) => {
      if (done) return;
      done = true;
      socket.destroy();
      resolve(status);
    };
    socket.setEncoding('latin1');
    socket.on('connect', () => socket.write(CLOSE));
    socket.on('data', (chunk) => {
      text += chunk;
      const [statuses] = responses(text);
      if (statuses.length > 0) finish(statuses[0]);
    });
    socket.on('error', () => finish(undefined));
    socket.on('close', () => finish(undefined));
  });
}

/** Drives one port for `sliceMs` with `connections` requests in flight; adds to `tally` when it counts. */
async function slice(port, pool, tally) {
  const started = performance.now();
  const until = started + sliceMs;
  const note = (status, sent) => {
    if (!tally) return;
    if (status === undefined) tally.errors++;
    else {
      tally.requests++;
      tally.latencies.push(performance.now() - sent);
      if (status < 200 || status >= 300) tally.non2xx++;
    }
  };
  if (mode === 'keep-alive') {
    await Promise.all(
      pool.map(
        (connection) =>
          new Promise((resolve) => {
            let sent = performance.now();
            connection.onDone = (status) => {
              note(status, sent);
              if (status !== undefined && performance.now() < until) {
                sent = performance.now();
                connection.send();
              } else {
                connection.onDone = null;
                resolve();
              }
            };
            connection.send();
          }),
      ),
    );
  } else {
    const worker = async () => {
      while (performance.now() < until) {
        const sent = performance.now();
        note(await perRequest(port), sent);
      }
    };
    await Promise.all(Array.from({ length: connections }, worker));
  }
  if (tally) tally.ms += performance.now() - started;
}

async function main() {
  const pools = [];
  for (const port of ports) {
    pools.push(
      mode === 'keep-alive'
        ? await Promise.all(Array.from({ length: connections }, () => keepAliveConnection(port)))
        : [],
    );
  }
  const tallies = ports.map(() => newTally());
  for (let pass = 0; pass < warmupSlices + slices; pass++) {
    if (pass === warmupSlices) {
      // The caller reads the servers' CPU and heap counters now, then says `go`.
      process.stdout.write('READY\n');
      await new Promise((resolve) => process.stdin.once('data', resolve));
    }
    const order = ports.map((_, i) => i);
    if (pass % 2 === 1) order.reverse();
    for (const i of order) await slice(ports[i], pools[i], pass < warmupSlices ? undefined : tallies[i]);
  }
  process.stdin.destroy();
  for (const pool of pools) for (const connection of pool) connection.socket.destroy();
  const out = tallies.map((t) => {
    t.latencies.sort((a, b) => a - b);
    const p99 = t.latencies[Math.min(t.latencies.length - 1, Math.floor(t.latencies.length * 0.99))] ?? NaN;
    return {
      requests: t.requests,
      ms: t.ms,
      rps: (t.requests / t.ms) * 1000,
      p99,
      non2xx: t.non2xx,
      errors: t.errors,
    };
  });
  process.stdout.write(`${JSON.stringify(out)}\n`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
