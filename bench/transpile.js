'use strict';
/**
 * The benchmarks' per-file TypeScript transpile, shared by their require hooks (bench/http-register.js,
 * bench/peers/register.js): CommonJS, ES2022, Nest's decorators and their metadata, no type check.
 * TypeScript itself is loaded on the first call only.
 */
let ts;
let compilerOptions;

/** `source`, the text of the `.ts` file `filename`, as CommonJS JavaScript. */
function transpile(source, filename) {
  if (!ts) {
    ts = require('typescript');
    compilerOptions = {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
      esModuleInterop: true,
      sourceMap: false,
    };
  }
  return ts.transpileModule(source, { fileName: filename, compilerOptions }).outputText;
}

module.exports = { transpile };
