import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/*
 * One seam per outside package (issue #13 item 4): every read or patch of another package's internals
 * lives in src/compat/. Outside it, no file imports or requires a deep path of another package, nor
 * names one of the Nest internals the seams wrap. Public entry points (`@nestjs/core`,
 * `@nestjs/common`, `rxjs`, `node:*`) and public classes used for injection (`ApplicationConfig`,
 * `LazyModuleLoader`, `ModulesContainer`) are fine.
 */
const ROOT = join(__dirname, '..', '..');
const COMPAT = join('src', 'compat') + sep;

/** A deep path of another package: `@nestjs/core/router/x.js`, `fastify/lib/x`, `express/lib/x`, `ws/lib/x`, `prom-client/lib/x`. */
const DEEP_IMPORT =
  /(?:\bfrom\s+|\bimport\s*\(\s*|\brequire\s*\(\s*|\bload\s*\(\s*)['"`]((?:@nestjs\/[\w.-]+|fastify|express|ws|prom-client|@prometheus-io\/client|@fastify\/[\w.-]+)\/[^'"`]+)['"`]/g;

/** Nest internals that only the seams may name (in code, not in comments or messages). */
const NEST_INTERNALS: ReadonlyArray<[RegExp, string]> = [
  [/\bExceptionsHandler\b/, 'ExceptionsHandler (N1 of src/compat/nest-core.ts)'],
  [/\bInstanceWrapper\b/, 'InstanceWrapper (N2 of src/compat/nest-core.ts)'],
  [
    /\bsetInstanceBy(?:ContextId|InquirerId)\b/,
    'InstanceWrapper#setInstanceBy* (N3 of src/compat/nest-core.ts)',
  ],
  [/\bgetStaticTransientInstances\b|\bisDependencyTreeStatic\b/, 'InstanceWrapper fields (N2)'],
  [/\.load\s*=/, 'LazyModuleLoader#load patch (N4 of src/compat/nest-core.ts)'],
  [/\bgetIoAdapter\b/, 'ApplicationConfig#getIoAdapter (N5 of src/compat/nest-core.ts)'],
  [/\bRoutePathFactory\b|\bPathsExplorer\b/, 'router internals (N6 of src/compat/nest-core.ts)'],
  [/\bMODULE_PATH\b|\bPATH_METADATA\b|\bVERSION_METADATA\b/, 'route metadata keys (N6)'],
  [/\bWsProxy\b/, 'WsProxy (W1 of src/compat/nest-websockets.ts)'],
  [/['"]THROTTLER:MODULE_OPTIONS['"]/, "the throttler's options token (T3 of src/compat/nest-throttler.ts)"],
  [/['"]ThrottlerException['"]/, 'ThrottlerException by name (T1 of src/compat/nest-throttler.ts)'],
];

/**
 * Internals of Node and of `@opentelemetry/api` that only their seams may read: `outputSize` and
 * `finished` of a `ServerResponse` (H1, H2 of src/compat/node-http.ts, in code outside comments and
 * strings), and the API's global registrations (O1 of src/compat/opentelemetry-api.ts, strings kept).
 */
const OTHER_INTERNALS: ReadonlyArray<[RegExp, 'code' | 'identifiers', string]> = [
  [/\boutputSize\b/, 'identifiers', 'ServerResponse#outputSize (H2 of src/compat/node-http.ts)'],
  [
    /\.finished\b|\bfinished\??:\s*(?:boolean|unknown)\b/,
    'identifiers',
    'ServerResponse#finished (H1 of src/compat/node-http.ts)',
  ],
  [
    /Symbol\.for\s*\(\s*['"`]opentelemetry/,
    'code',
    "@opentelemetry/api's global registrations (O1 of src/compat/opentelemetry-api.ts)",
  ],
];

/** Files that still fail, each with why. Empty: every file outside src/compat/ passes. */
const ALLOWED: ReadonlyMap<string, readonly string[]> = new Map();

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : path.endsWith('.ts') ? [path] : [];
  });
}

/** The code of a file without its comments (strings are kept: module ids are strings). */
function code(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/(^|[^:'"`\\])\/\/.*$/gm, '$1');
}

/** The code without string and template literals either, for identifiers. */
function identifiers(text: string): string {
  return code(text).replace(/'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*"|`(?:[^`\\]|\\.)*`/g, "''");
}

describe('every reach into another package goes through its seam (src/compat/)', () => {
  const outside = filesUnder(join(ROOT, 'src'))
    .map((f) => relative(ROOT, f))
    .filter((f) => !f.startsWith(COMPAT))
    .sort();

  it('finds the source files it checks', () => {
    expect(outside.length).toBeGreaterThan(50);
    expect(outside).toContain(join('src', 'http', 'excluded-routes.ts'));
  });

  it('no file outside src/compat/ imports or requires a deep path of another package', () => {
    const found: string[] = [];
    for (const file of outside) {
      for (const match of code(readFileSync(join(ROOT, file), 'utf8')).matchAll(DEEP_IMPORT))
        found.push(`${file} imports ${match[1]}: move that reach into src/compat/<package>.ts`);
    }
    expect(found).toEqual([]);
  });

  it('no file outside src/compat/ names a Nest internal that a seam wraps', () => {
    const found: string[] = [];
    for (const file of outside) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      const allowed = ALLOWED.get(file.split(sep).join('/')) ?? [];
      for (const [pattern, what] of NEST_INTERNALS) {
        const source = what.includes('token') || what.includes('by name') ? code(text) : identifiers(text);
        if (pattern.test(source) && !allowed.includes(what))
          found.push(`${file} reaches ${what}: use the seam's function instead`);
      }
    }
    expect(found).toEqual([]);
  });

  it("no file outside src/compat/ reads a response's outputSize or finished, or @opentelemetry/api's registrations", () => {
    const found: string[] = [];
    for (const file of outside) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [pattern, strip, what] of OTHER_INTERNALS) {
        if (pattern.test(strip === 'code' ? code(text) : identifiers(text)))
          found.push(`${file} reaches ${what}: use the seam's function instead`);
      }
    }
    expect(found).toEqual([]);
  });

  it('the allow-list holds only files that still need it', () => {
    const stale: string[] = [];
    for (const [file, whats] of ALLOWED) {
      let text: string;
      try {
        text = code(readFileSync(join(ROOT, file), 'utf8'));
      } catch {
        stale.push(`${file} no longer exists`);
        continue;
      }
      for (const what of whats) {
        const entry = NEST_INTERNALS.find(([, w]) => w === what);
        if (!entry || !entry[0].test(text))
          stale.push(`${file} no longer reaches ${what}: remove it from ALLOWED`);
      }
    }
    expect(stale).toEqual([]);
  });
});
