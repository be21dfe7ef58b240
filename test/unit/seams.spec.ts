import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';

/*
 * One seam per outside package: every read or patch of another package's internals lives in
 * src/compat/. Outside it, no file imports or requires a deep path of another package, names one of
 * the internals the seams wrap, patches another package's objects the way a seam does, loads an
 * optional peer or reads an installed version. Public entry points (`@nestjs/core`,
 * `@nestjs/common`, `rxjs`, `node:*`) and public classes used for injection (`ApplicationConfig`,
 * `LazyModuleLoader`, `ModulesContainer`) are fine. Inside src/compat/: one loader of optional
 * peers, one reader of installed versions, no import circle, and each seam's assumption ids under a
 * prefix of its own, every one listed in docs/internals.md. The checker is run on planted snippets
 * too (the reaches this project once had outside src/compat/), so each pattern is proven to fire.
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

/**
 * Reaches the seams of this round took out of src/ (Mercurius, Apollo and @nestjs/graphql, Express'
 * `app.handle`, the clients' metric fields and methods, the loader and the version reader): each
 * pattern, what it strips before looking (`code`: comments; `identifiers`: comments and strings),
 * and the seam's function to use instead.
 */
const SEAM_REACHES: ReadonlyArray<[RegExp, 'code' | 'identifiers', string]> = [
  [
    /\.graphql\s*=(?!=)/,
    'identifiers',
    'app.graphql replaced (M1 of src/compat/mercurius.ts: listenToMercurius)',
  ],
  [
    /\baddHook\s*\(\s*['"`]pre(?:Validation|Execution)['"`]/,
    'code',
    "Mercurius' preValidation/preExecution hooks (M3 of src/compat/mercurius.ts: listenToMercurius)",
  ],
  [
    /['"`]MER_ERR_GQL_VALIDATION['"`]/,
    'code',
    "Mercurius' refusal code (M2 of src/compat/mercurius.ts: isRefusal)",
  ],
  [/['"`]graphql:plugin['"`]/, 'code', "Apollo's @Plugin() metadata key (G1 of src/compat/nest-graphql.ts)"],
  [
    /['"`]rootFieldResolver['"`]/,
    'code',
    "Nest's parent-field resolver by name (G2 of src/compat/nest-graphql.ts)",
  ],
  [
    /\.resolve\s*=(?!=)/,
    'identifiers',
    "a schema's resolvers rewritten in place (G3 of src/compat/nest-graphql.ts: replaceResolvers)",
  ],
  [
    /['"`]\[object GraphQLObjectType\]['"`]/,
    'code',
    "graphql-js' object types told by their tag (G3 of src/compat/nest-graphql.ts: replaceResolvers)",
  ],
  [/\.handle\s*=(?!=)/, 'identifiers', "Express' app.handle replaced (E9 of src/compat/express.ts)"],
  [
    /\bupperBounds\b|\.percentiles\b|\bpercentiles\?\s*:|\.enableExemplars\b|\benableExemplars\?\s*:/,
    'identifiers',
    "a metric's own fields (C1 of src/compat/metrics-client.ts: metricFields, bucketsOf, exemplarsOn)",
  ],
  [
    /\btype\?\s*:\s*string\b[^{}()]*\bhelp\?\s*:|\bhelp\?\s*:\s*string\b[^{}()]*\btype\?\s*:\s*string\b/,
    'identifiers',
    "a metric's type and help read off the client's object (C1 of src/compat/metrics-client.ts: metricFields)",
  ],
  [
    /(?<!\bthis)\.(?:inc|dec|set|setToCurrentTime|observe|zero|labels|remove|startTimer|reset)\s*=(?!=)|\[\s*\w+\s*\]\s*=\s*function\b/,
    'identifiers',
    "a metric's recording methods replaced (C2 of src/compat/metrics-client.ts: replaceRecordingMethods)",
  ],
  [
    /\brequire\s*\(|['"`]MODULE_NOT_FOUND['"`]/,
    'code',
    'an optional peer loaded (the one loader: loadOptionalPeer of src/compat/optional-peers.ts)',
  ],
  [
    /\/package\.json['"`]/,
    'code',
    'an installed version read (the one reader: installedVersion of src/compat/installed-version.ts)',
  ],
];

/** Every reach `text` (a source file outside src/compat/) makes, by what it is. */
function reachesOf(text: string, allowed: readonly string[] = []): string[] {
  const found: string[] = [];
  for (const match of code(text).matchAll(DEEP_IMPORT)) found.push(`a deep import of ${match[1]}`);
  for (const [pattern, what] of NEST_INTERNALS) {
    const source = what.includes('token') || what.includes('by name') ? code(text) : identifiers(text);
    if (pattern.test(source) && !allowed.includes(what)) found.push(what);
  }
  for (const [pattern, strip, what] of [...OTHER_INTERNALS, ...SEAM_REACHES])
    if (pattern.test(strip === 'code' ? code(text) : identifiers(text))) found.push(what);
  return found;
}

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

  it("no file outside src/compat/ reaches Mercurius, Apollo, Express, a metric's fields or methods, a peer or a version but through their seams", () => {
    const found: string[] = [];
    for (const file of outside) {
      const text = readFileSync(join(ROOT, file), 'utf8');
      for (const [pattern, strip, what] of SEAM_REACHES) {
        if (pattern.test(strip === 'code' ? code(text) : identifiers(text)))
          found.push(`${file} reaches ${what}`);
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

/**
 * Each reach once made outside src/compat/, as it was written (trimmed), and the id the checker must
 * name for it: a pattern that stopped firing fails here, not silently.
 */
const PLANTED: ReadonlyArray<[string, string]> = [
  ['app.graphql = new Proxy(graphql, { apply() { return undefined; } });', 'M1 '],
  ["graphql.addHook('preValidation', (_schema, document, context) => undefined);", 'M3 '],
  ["if (e.code === 'MER_ERR_GQL_VALIDATION') return 'request_error';", 'M2 '],
  ["const APOLLO_PLUGIN_METADATA = 'graphql:plugin';", 'G1 '],
  ["const NEST_PARENT_FIELD_RESOLVER = 'rootFieldResolver';", 'G2 '],
  ['field.resolve = wrapResolver(own ?? defaultResolver, series);', 'G3 '],
  ["return Object.prototype.toString.call(type) === '[object GraphQLObjectType]';", 'G3 '],
  [
    'express.handle = function vezaMetricsHandle(req, res, next) { return handle.call(this, req, res, next); };',
    'E9 ',
  ],
  ['...(m.upperBounds ? { buckets: [...m.upperBounds] } : {}),', 'C1 '],
  ['interface MetricInternals {\n  type?: string;\n  help?: string;\n  labelNames?: string[];\n}', 'C1 '],
  [
    'interface Metric {\n  readonly name: string;\n  readonly help?: string;\n  readonly type?: string;\n}',
    'C1 ',
  ],
  ['if (counter.enableExemplars === true) counter.inc({ labels, value: 1 });', 'C1 '],
  ["if (!(info.percentiles ?? []).includes(quantile)) throw invalid('no such quantile');", 'C1 '],
  ['m[method] = function guarded(this: unknown, a?: unknown, b?: unknown): unknown { return a; };', 'C2 '],
  ['m.reset = function guardedReset(): unknown { series.clear(); return reset.call(m); };', 'C2 '],
  ['m.startTimer = function guardedStartTimer(startLabels?: unknown) { return () => 0; };', 'C2 '],
  ["const { defaultFieldResolver } = require('graphql');", 'loadOptionalPeer'],
  ["if (e?.code === 'MODULE_NOT_FOUND') return undefined;", 'loadOptionalPeer'],
  ['const manifest = readFileSync(require.resolve(`${name}/package.json`), "utf8");', 'installedVersion'],
  ["import { RoutePathFactory } from '@nestjs/core/router/route-path-factory.js';", '@nestjs/core/router'],
  ['const handler = new ExceptionsHandler();', 'N1 '],
  ['const wrapper = host as InstanceWrapper;', 'InstanceWrapper (N2'],
  ['wrapper.setInstanceByContextId(contextId, instance);', 'setInstanceBy* (N3'],
  ['if (wrapper.isDependencyTreeStatic()) return;', 'InstanceWrapper fields (N2)'],
  ['loader.load = async function patched(factory) { return factory(); };', 'LazyModuleLoader#load patch (N4'],
  ['const adapter = config.getIoAdapter();', 'getIoAdapter (N5'],
  ['const paths = new PathsExplorer(scanner);', 'router internals (N6'],
  ['const prefix = Reflect.getMetadata(PATH_METADATA, controller);', 'route metadata keys (N6)'],
  ['const proxy = new WsProxy();', 'WsProxy (W1'],
  ["const options = moduleRef.get('THROTTLER:MODULE_OPTIONS');", "throttler's options token (T3"],
  ["if (error.constructor.name === 'ThrottlerException') return 429;", 'ThrottlerException by name (T1'],
  ['const pending = res.outputSize;', 'outputSize (H2'],
  ['if (res.finished) return;', 'H1 '],
  ["const api = globalThis[Symbol.for('opentelemetry.js.api.1')];", 'O1 '],
];

describe('the checker itself', () => {
  it.each(PLANTED)('fires on %s', (snippet, id) => {
    const found = reachesOf(snippet);
    expect(found.some((what) => what.includes(id))).toBe(true);
  });

  it('has a planted snippet for every pattern', () => {
    const patterns = [
      ...NEST_INTERNALS.map(([, what]) => what),
      ...[...OTHER_INTERNALS, ...SEAM_REACHES].map(([, , what]) => what),
    ];
    const fired = new Set(PLANTED.flatMap(([snippet]) => reachesOf(snippet)));
    expect(patterns.filter((what) => !fired.has(what))).toEqual([]);
  });

  it('is quiet on what the seams left outside src/compat/ (public APIs, our own fields)', () => {
    const quiet = [
      "const fields = metricFields(metric); if (fields.type === 'histogram') render(fields.buckets);",
      'out[name] = sanitizeLabelValue(labels[name]);',
      'return replaceResolvers(schema, (field) => (field.fromParent ? undefined : wrap(field.resolver)));',
      'if (beforeEveryRequest(app, start)) return;',
      'this.labels = asRecorded(labels);',
      'interface MetricJson {\n  name: string;\n  help: string;\n  type: string;\n}',
      'const counter = new Counter({ name, help, labelNames, registers: [registry], enableExemplars: true });',
      '// app.graphql = new Proxy(...) once lived here: now listenToMercurius (M1)',
    ];
    expect(quiet.flatMap((snippet) => reachesOf(snippet))).toEqual([]);
  });
});

/** The files of src/compat/ and, for each, the files of src/compat/ it imports (types included). */
function compatGraph(): Map<string, string[]> {
  const dir = join(ROOT, 'src', 'compat');
  const graph = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = code(readFileSync(join(dir, file), 'utf8'));
    const targets = [...text.matchAll(/\bfrom\s+['"]\.\/([\w.-]+)['"]/g)].map((m) => `${m[1]}.ts`);
    graph.set(file, [...new Set(targets)]);
  }
  return graph;
}

/** The assumption ids each seam lists at its top (`A1`, `E9`, `M4` ...), by file. */
function assumptionIds(): Map<string, string[]> {
  const dir = join(ROOT, 'src', 'compat');
  const ids = new Map<string, string[]>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const text = readFileSync(join(dir, file), 'utf8');
    const header = /^\s*\/\*[\s\S]*?\*\//.exec(text)?.[0] ?? '';
    const found = [...header.matchAll(/^ \* ([A-Z]{1,2}\d+)[. ]/gm)].map((m) => m[1]);
    if (found.length > 0) ids.set(file, [...new Set(found)]);
  }
  return ids;
}

describe('inside src/compat/', () => {
  it('no import circle between the seams (type imports included)', () => {
    const graph = compatGraph();
    const cycles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (path.includes(file)) {
        cycles.push([...path.slice(path.indexOf(file)), file].join(' -> '));
        return;
      }
      for (const next of graph.get(file) ?? []) visit(next, [...path, file]);
    };
    for (const file of graph.keys()) visit(file, []);
    expect([...new Set(cycles)]).toEqual([]);
  });

  it('one loader of optional peers, one reader of installed versions', () => {
    const dir = join(ROOT, 'src', 'compat');
    const loaders: string[] = [];
    const readers: string[] = [];
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const text = code(readFileSync(join(dir, file), 'utf8'));
      if (/['"`]MODULE_NOT_FOUND['"`]/.test(text)) loaders.push(file);
      if (/\/package\.json['"`]|\bfunction installedVersion\b|\binstalledVersion\s*=/.test(text))
        readers.push(file);
    }
    expect({ loaders, readers }).toEqual({
      loaders: ['optional-peers.ts'],
      readers: ['installed-version.ts'],
    });
  });

  it('each seam numbers its assumptions under a prefix of its own, all listed in docs/internals.md', () => {
    const ids = assumptionIds();
    const owners = new Map<string, string[]>();
    for (const [file, list] of ids) {
      for (const prefix of new Set(list.map((id) => id.replace(/\d+$/, ''))))
        owners.set(prefix, [...(owners.get(prefix) ?? []), file]);
    }
    const shared = [...owners]
      .filter(([, files]) => files.length > 1)
      .map(([p, files]) => `${p}: ${files.join(', ')}`);
    expect(shared).toEqual([]);
    const docs = readFileSync(join(ROOT, 'docs', 'internals.md'), 'utf8');
    const missing = [...ids].flatMap(([file, list]) =>
      list.filter((id) => !new RegExp(`\\b${id}\\b`).test(docs)).map((id) => `${id} (${file})`),
    );
    expect(missing).toEqual([]);
    expect([...ids.keys()].sort()).toEqual(
      expect.arrayContaining([
        'cache-manager.ts',
        'express.ts',
        'mercurius.ts',
        'metrics-client.ts',
        'nest-graphql.ts',
        'nest-terminus.ts',
        'prisma.ts',
        'prom-client.ts',
        'typeorm.ts',
        'undici.ts',
        'node-http-client.ts',
      ]),
    );
  });
});
