'use strict';
/**
 * BENCH_CLIENT=prometheus-io: every `require('prom-client')` of this process (the library's and the
 * bench's) gets @prometheus-io/client, prom-client's successor (Node 22+), as in an application that
 * installed only it; the library tells the two apart by shape. Unset or `prom-client`: unchanged.
 * Loaded by bench/http-register.js and by `npm run bench:decorators`; child processes inherit the
 * variable, so every server of a run uses the same client. Each bench prints the client it ran.
 */
const Module = require('node:module');

const client = process.env.BENCH_CLIENT || 'prom-client';
if (client !== 'prom-client' && client !== 'prometheus-io') {
  throw new Error(`BENCH_CLIENT must be "prom-client" or "prometheus-io", got ${JSON.stringify(client)}`);
}
if (client === 'prometheus-io') {
  const resolve = Module._resolveFilename;
  Module._resolveFilename = function (request, ...rest) {
    return resolve.call(this, request === 'prom-client' ? '@prometheus-io/client' : request, ...rest);
  };
}
const name = client === 'prometheus-io' ? '@prometheus-io/client' : 'prom-client';
/** What the report prints: `prom-client 15.1.3` or `@prometheus-io/client 0.16.1`, and the Node version. */
exports.benchClient = `${name} ${require(`${name}/package.json`).version}, node ${process.version}`;
