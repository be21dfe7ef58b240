'use strict';
/**
 * A require hook for the HTTP benchmark: compiles `.ts` files (the library's src, the bench's own
 * server) with TypeScript's per-file transpiler, so `npm run bench:http` needs no build step and
 * measures the source as it is. Nest 12 packages are ESM-only and load through require(esm).
 */
const fs = require('node:fs');
const ts = require('typescript');
require('./client-switch');

const compilerOptions = {
  module: ts.ModuleKind.CommonJS,
  target: ts.ScriptTarget.ES2022,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  esModuleInterop: true,
  sourceMap: false,
};

require.extensions['.ts'] = (module, filename) => {
  const source = fs.readFileSync(filename, 'utf8');
  const { outputText } = ts.transpileModule(source, { fileName: filename, compilerOptions });
  module._compile(outputText, filename);
};
