'use strict';
/**
 * A require hook for the HTTP benchmark: compiles `.ts` files (the library's src, the bench's own
 * server) with TypeScript's per-file transpiler, so `npm run bench:http` needs no build step and
 * measures the source as it is. Nest 12 packages are ESM-only and load through require(esm).
 */
const fs = require('node:fs');
const { transpile } = require('./transpile');
require('./client-switch');

require.extensions['.ts'] = (module, filename) => {
  module._compile(transpile(fs.readFileSync(filename, 'utf8'), filename), filename);
};
