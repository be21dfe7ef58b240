/**
 * Checks one installed fixture (run from its directory, outside the repository): starts app.mjs on
 * Express and on Fastify, once with the module's own registry and once with the app's own Registry
 * of the Prometheus client the fixture installed, sends the requests below and asserts exact lines
 * of /metrics. Prints one `ok - ...` or `not ok - ...` line per check and exits 1 if any failed.
 * A fixture that installs TypeORM, `@nestjs/cache-manager` and `@nestjs/terminus` also runs the
 * routes of libraries.mjs (one query, one cache read, one health check, one outbound `fetch` to a
 * local server), each counted with no code of the app's (issue 23).
 *
 * `node check.mjs` — the client is the one of prom-client / @prometheus-io/client that the fixture's
 * package.json depends on (MATRIX_CLIENT overrides). With @prometheus-io/client on Node < 22 the
 * check is that the start-up fails, saying why; and a successor fixture must not have prom-client.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join, sep } from 'node:path';

const here = process.cwd();
const require = createRequire(join(here, 'package.json'));
const CLIENTS = ['prom-client', '@prometheus-io/client'];

let failed = 0;
let passed = 0;
function report(ok, name, detail) {
  if (ok) passed++;
  else failed++;
  console.log(
    `${ok ? 'ok' : 'not ok'} - ${name}${ok || !detail ? '' : `\n    ${detail.replace(/\n/g, '\n    ')}`}`,
  );
}

// Node looks for a package missing from the fixture in every parent folder: a fixture inside the
// repository would silently run the repository's Nest or client. Every package must be the fixture's own.
const pkg = JSON.parse(readFileSync(join(here, 'package.json'), 'utf8'));
const client = process.env.MATRIX_CLIENT || CLIENTS.find((name) => pkg.dependencies?.[name]);
const outsiders = ['@nestjs/core', '@nestjs/common', '@veza/nestjs-metrics', client]
  .map((name) => [name, require.resolve(`${name}/package.json`)])
  .filter(([, path]) => !path.startsWith(here + sep + 'node_modules' + sep));
if (!client || outsiders.length > 0) {
  report(
    false,
    'fixture resolves its own packages',
    `client ${client ?? 'none'}; from elsewhere: ${JSON.stringify(outsiders)}`,
  );
  process.exit(1);
}
// The libraries of issue 23, when the fixture installs them (libraries.mjs).
const LIBRARIES = [
  'typeorm',
  '@nestjs/typeorm',
  'cache-manager',
  '@nestjs/cache-manager',
  '@nestjs/terminus',
];
const withLibraries = Boolean(pkg.dependencies?.['@nestjs/typeorm']);
const versions = Object.fromEntries(
  ['@nestjs/core', 'express', 'fastify', client, ...(withLibraries ? LIBRARIES : [])].map((n) => [
    n,
    tryVersion(n),
  ]),
);
console.log(
  `# node ${process.version}, ${Object.entries(versions)
    .map(([n, v]) => `${n} ${v}`)
    .join(', ')}`,
);

function tryVersion(name) {
  // A package whose `exports` leave out its package.json (typeorm, sql.js, cache-manager): read it
  // from the fixture's node_modules.
  if (LIBRARIES.includes(name)) {
    try {
      return JSON.parse(readFileSync(join(here, 'node_modules', name, 'package.json'), 'utf8')).version;
    } catch {
      return 'absent';
    }
  }
  try {
    // express and fastify are the platform packages' dependencies, resolved from there.
    const from =
      name === 'express'
        ? '@nestjs/platform-express'
        : name === 'fastify'
          ? '@nestjs/platform-fastify'
          : name;
    const base = createRequire(require.resolve(`${from}/package.json`));
    return base(`${name}/package.json`).version;
  } catch {
    return 'absent';
  }
}

const { startApp } = await import(new URL('./app.mjs', import.meta.url).href);
const promClient = require(client);

const SECRET = 'raw-secret-9f3';
const REQUESTS = [
  ['/api/v1/items/7?token=' + SECRET, 200],
  ['/api/v1/items/denied/8', 403],
  ['/api/v1/items/boom/9', 500],
  ['/api/v1/auth/login/ok', 200],
  ['/api/v1/auth/login/bad', 401],
  ['/api/v1/items/labels', 200],
  [`/${SECRET}/x?q=${SECRET}`, 404],
];
const EXPECTED_LINES = [
  'veza_http_requests_total{method="GET",endpoint="/api/v1/items/:id",status="200"} 1',
  'veza_http_requests_total{method="GET",endpoint="/api/v1/items/denied/:id",status="403"} 1',
  'veza_http_requests_total{method="GET",endpoint="/api/v1/items/boom/:id",status="500"} 1',
  'veza_http_requests_total{method="GET",endpoint="/api/v1/auth/login/:outcome",status="200"} 1',
  'veza_http_requests_total{method="GET",endpoint="/api/v1/auth/login/:outcome",status="401"} 1',
  'veza_http_requests_total{method="GET",endpoint="/api/v1/items/labels",status="200"} 1',
  'veza_http_requests_total{method="GET",endpoint="<unmatched>",status="404"} 1',
  'veza_http_request_duration_seconds_count{method="GET",endpoint="/api/v1/items/:id"} 1',
  'veza_errors_total{type="Error",severity="critical"} 1',
  'veza_auth_login_attempts_total{success="success"} 1',
  'veza_auth_login_attempts_total{success="failure"} 1',
  'veza_database_query_errors_total{operation="b",error_type="a|"} 1',
  'veza_database_query_errors_total{operation="|b",error_type="a"} 1',
];

// One use of each library (libraries.mjs), and what each is counted as. `host` is the upstream's.
const LIBRARY_REQUESTS = [
  ['/api/v1/tracks', 200],
  ['/api/v1/settings/theme', 200],
  ['/api/v1/health', 200],
  ['/api/v1/upstream', 200],
];
const libraryLines = (host) => [
  'veza_database_query_duration_seconds_count{operation="select",table="tracks"} 1',
  'veza_cache_misses_total{subsystem="memory"} 1',
  'veza_health_check_duration_ms_count{service="storage"} 1',
  'veza_health_check_status{service="storage"} 1',
  `veza_http_client_requests_total{method="GET",host="${host}",status="200"} 1`,
  `veza_http_client_request_duration_seconds_count{method="GET",host="${host}"} 1`,
];

/** The service the app calls out to: 200 on every request. */
async function startUpstream() {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => res.end('fine'));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${server.address().port}`;
  return { server, host, url: `http://${host}` };
}
const upstream = withLibraries ? await startUpstream() : undefined;

async function checkOne(adapter, registryMode) {
  const label = `${adapter}, ${registryMode === 'own' ? `the app's ${client} Registry` : "the module's registry"}`;
  let started;
  try {
    const options = {};
    if (registryMode === 'own') {
      options.registry = new promClient.Registry();
      new promClient.Counter({
        name: 'matrix_app_events_total',
        help: "The app's own counter",
        registers: [options.registry],
      }).inc(3);
    }
    started = await startApp(adapter, options, upstream?.url);
  } catch (error) {
    report(false, `${label}: starts`, String(error?.stack ?? error));
    return;
  }
  const { app, url } = started;
  try {
    const statuses = [];
    for (const [path, status] of [...REQUESTS, ...(upstream ? LIBRARY_REQUESTS : [])]) {
      const res = await fetch(url + path);
      await res.arrayBuffer();
      statuses.push([path, res.status, status]);
    }
    const wrong = statuses.filter(([, got, want]) => got !== want);
    report(wrong.length === 0, `${label}: every route answers its status`, JSON.stringify(wrong));

    const res = await fetch(url + '/metrics');
    const text = await res.text();
    report(res.status === 200, `${label}: /metrics answers 200`, `got ${res.status}: ${text.slice(0, 300)}`);
    const lines = new Set(text.split('\n'));
    const expected = [
      ...EXPECTED_LINES,
      ...(registryMode === 'own' ? ['matrix_app_events_total 3'] : []),
      ...(upstream ? libraryLines(upstream.host) : []),
    ];
    for (const line of expected) report(lines.has(line), `${label}: ${line}`, related(text, line));
    const leaks = text
      .split('\n')
      .filter((l) => l.includes(SECRET) || l.includes('token=') || l.includes('/items/7'));
    report(leaks.length === 0, `${label}: no raw path or query on /metrics`, leaks.join('\n'));
  } catch (error) {
    report(false, `${label}: requests`, String(error?.stack ?? error));
  } finally {
    await app.close();
  }
}

/** The lines of the same metric, to show what was there instead. */
function related(text, line) {
  const name = line.split(/[{ ]/)[0];
  const same = text.split('\n').filter((l) => l.startsWith(name + '{') || l.startsWith(name + ' '));
  return `present for ${name}:\n${same.join('\n') || '(none)'}`;
}

if (client === '@prometheus-io/client') {
  // The successor-only case: prom-client must not be installed (willsoto would bring it in).
  let promClient;
  try {
    promClient = require.resolve('prom-client/package.json');
  } catch {
    promClient = undefined;
  }
  report(
    promClient === undefined,
    'prom-client is not installed beside @prometheus-io/client',
    `found at ${promClient}`,
  );
}

if (client === '@prometheus-io/client' && Number(process.versions.node.split('.')[0]) < 22) {
  // The successor needs Node 22: the start-up fails with a sentence that says why.
  for (const adapter of ['express', 'fastify']) {
    try {
      const { app } = await startApp(adapter, {});
      await app.close();
      report(
        false,
        `${adapter}: start-up fails on Node ${process.version} with @prometheus-io/client`,
        'the application started',
      );
    } catch (error) {
      const message = String(error?.message ?? error);
      report(
        /@prometheus-io\/client \S+ needs Node 22 or newer \(it uses the iterator helpers of Node 22/.test(
          message,
        ),
        `${adapter}: start-up fails on Node ${process.version} with @prometheus-io/client, saying why`,
        message,
      );
    }
  }
} else {
  for (const adapter of ['express', 'fastify']) {
    for (const registryMode of ['module', 'own']) await checkOne(adapter, registryMode);
  }
}
upstream?.server.close();
console.log(`# ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
