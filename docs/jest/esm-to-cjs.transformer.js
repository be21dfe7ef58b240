'use strict';
/**
 * Jest transformer for the ESM-only packages of the Nest 12 ecosystem.
 *
 * Node runs them from CommonJS through require(esm), but Jest's own module system on Node 20 cannot
 * (it needs Node 24.9+). So test runs turn those files into CommonJS once (Jest caches the result):
 * TypeScript's transpiler rewrites import/export and dynamic import(), `import.meta.url` becomes the
 * file's URL, `import.meta.resolve` a `require.resolve`, and a `require` made with `createRequire`
 * the file's own. Files of CommonJS packages pass through untouched.
 */
const fs = require('node:fs');
const path = require('node:path');
const { createHash } = require('node:crypto');
const ts = require('typescript');

const typeCache = new Map();

function isEsmFile(filename) {
  if (filename.endsWith('.mjs')) return true;
  if (filename.endsWith('.cjs')) return false;
  let dir = path.dirname(filename);
  const seen = [];
  while (true) {
    if (typeCache.has(dir)) break;
    seen.push(dir);
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      let esm;
      try {
        esm = JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module';
      } catch {
        esm = false;
      }
      typeCache.set(dir, esm);
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      typeCache.set(dir, false);
      break;
    }
    dir = parent;
  }
  const result = typeCache.get(dir);
  for (const d of seen) typeCache.set(d, result);
  return result;
}

module.exports = {
  getCacheKey(source, filename) {
    return createHash('sha1')
      .update('esm-to-cjs-v4\0')
      .update(filename)
      .update('\0')
      .update(source)
      .digest('hex');
  },
  process(source, filename) {
    if (!isEsmFile(filename)) {
      // Jest on Node 20 runs no dynamic import(): in a CommonJS file, `import('pkg')` of a literal
      // (mercurius loads ESM-only quick-lru so) becomes a require of the package, transformed here
      // when it is ESM, with `default` as import() gives it.
      if (!/(?<![.\w$])import\(\s*['"]/.test(source)) return { code: source };
      const code = source.replace(
        /(?<![.\w$])import\((\s*(['"])[^'"]+\2\s*)\)/g,
        'Promise.resolve().then(() => { const m = require($1); return m && m.__esModule ? m : { ...m, default: m }; })',
      );
      return { code };
    }
    const withMeta = source
      // `const require = createRequire(import.meta.url)` is what CommonJS gives every file already,
      // and would redeclare the module's own `require`.
      .replace(/^\s*(?:const|let|var)\s+require\s*=\s*createRequire\(\s*import\.meta\.url\s*\);?\s*$/gm, '')
      .replace(
        /\bimport\.meta\.resolve\(/g,
        '((s) => require("node:url").pathToFileURL(require.resolve(s)).href)(',
      )
      .replace(/\bimport\.meta\.url\b/g, 'require("node:url").pathToFileURL(__filename).href')
      .replace(/\bimport\.meta\.dirname\b/g, '__dirname')
      .replace(/\bimport\.meta\.filename\b/g, '__filename');
    const out = ts.transpileModule(withMeta, {
      fileName: filename,
      compilerOptions: {
        module: ts.ModuleKind.CommonJS,
        target: ts.ScriptTarget.ES2022,
        esModuleInterop: true,
        allowJs: true,
        sourceMap: false,
      },
    });
    return { code: out.outputText };
  },
};
