'use strict';
/**
 * What the benchmark runners that start servers in processes of their own share (bench/http.bench.js,
 * bench/peers/peers.bench.js): CPU pinning with taskset, running a command to its output, reading a
 * server's stdout line by line, stopping a server, driving a URL with autocannon, and the median.
 */
const { spawn, spawnSync } = require('node:child_process');
const os = require('node:os');
const path = require('node:path');

/** The repository: every process starts there. */
const ROOT = path.resolve(__dirname, '..');

/** Whether processes can be pinned to a CPU: 2 CPUs or more, and taskset on the PATH. */
const CAN_PIN = os.cpus().length >= 2 && !spawnSync('taskset', ['-c', '0', 'true']).error;

/** `[command, args]`, pinned to `cpu` with taskset when one is given. */
const pinned = (cpu, command, args) =>
  cpu === undefined ? [command, args] : ['taskset', ['-c', cpu, command, ...args]];

/** Runs `command` with `args` (pinned to `cpu`, when given) from ROOT; resolves to its stdout. */
function run(command, args, cpu) {
  [command, args] = pinned(cpu, command, args);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('exit', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${command} exited with ${code}: ${err}`)),
    );
  });
}

/** Calls `online` with each complete line `child` writes to its stdout. */
function onLines(child, online) {
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (chunk) => {
    out += chunk;
    let nl;
    while ((nl = out.indexOf('\n')) >= 0) {
      const line = out.slice(0, nl);
      out = out.slice(nl + 1);
      online(line);
    }
  });
}

/** Stops the server process `server.child` (SIGTERM); resolves once it has exited. */
function stopServer(server) {
  return new Promise((resolve) => {
    server.child.removeAllListeners('exit');
    if (server.child.exitCode !== null) return resolve();
    server.child.once('exit', resolve);
    server.child.kill('SIGTERM');
  });
}

/** autocannon's JSON report of `connections` connections driving `url` for `seconds` (from `cpu`, when given). */
async function autocannon(url, connections, seconds, cpu) {
  const bin = require.resolve('autocannon/autocannon.js');
  const out = await run(
    process.execPath,
    [bin, '-c', String(connections), '-d', String(seconds), '-j', url],
    cpu,
  );
  return JSON.parse(out);
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

module.exports = { ROOT, CAN_PIN, pinned, run, onLines, stopServer, autocannon, median };
