'use strict';
/**
 * The require hook of `npm run bench:peers`: bench/transpile.js's per-file TypeScript transpile (as in bench/http-register.js),
 * with the output cached under node_modules/.cache/veza-bench-peers (keyed by the file's path, size
 * and modification time). The peer benchmark starts dozens of fresh server processes, and without
 * the cache each spent seconds of CPU loading TypeScript and transpiling the library's sources
 * before it could listen. It changes nothing the servers run.
 */
const { createHash } = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');
const { transpile } = require('../transpile');
require('../client-switch');

const CACHE = path.resolve(__dirname, '../../node_modules/.cache/veza-bench-peers');

require.extensions['.ts'] = (module, filename) => {
  const stat = fs.statSync(filename);
  const key = createHash('sha1').update(`${filename}\0${stat.size}\0${stat.mtimeMs}`).digest('hex');
  const cached = path.join(CACHE, `${key}.js`);
  let output;
  try {
    output = fs.readFileSync(cached, 'utf8');
  } catch {
    output = transpile(fs.readFileSync(filename, 'utf8'), filename);
    fs.mkdirSync(CACHE, { recursive: true });
    const temporary = `${cached}.${process.pid}`;
    fs.writeFileSync(temporary, output);
    fs.renameSync(temporary, cached);
  }
  module._compile(output, filename);
};
