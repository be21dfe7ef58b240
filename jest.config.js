'use strict';
/**
 * The test tiers, as jest projects (CONTRIBUTING.md, "Test tiers", says which to run when):
 *
 * - `unit`: src/**\/*.spec.ts and test/unit/**\/*.spec.ts but the contract specs; pure, no sockets to
 *   other processes, run by parallel workers (`npm run test:unit`, `npm run test:unit:watch`).
 * - `contract`: what holds the package to the compiler and to other packages: type checks with the
 *   TypeScript compiler, the public API, the docs, the seams into other packages' internals and their
 *   contract tests, and the packed tarball (`npm run test:contract`). Chosen by the names in
 *   CONTRACT below, so a spec is never moved to change its tier.
 * - `e2e`: test/e2e/**\/*.e2e-spec.ts, real apps over real HTTP, brokers, Prometheus (`npm run test:e2e`).
 * - `stress`: test/stress/**\/*.stress-spec.ts, the floods at full size (`npm run test:stress`).
 *
 * `npm test` runs every project. test/unit/tiers.spec.ts checks that every spec file is in exactly
 * one project. Each spec starts what it needs on free ports and in temporary directories of its own
 * (test/utils), so the specs run two or more at a time.
 *
 * VEZA_TEST_CLIENT=prometheus-io runs the specs against @prometheus-io/client (prom-client's
 * successor, Node 22+): every `prom-client` import, the specs' and the library's, gets the successor,
 * as in an application that installed only it (the library tells the two apart by shape, so it sees
 * no prom-client at all). scripts/matrix.sh runs the specs of values, guard, exemplars, renderer,
 * Pushgateway, cluster and promtool this way on Node 24.
 */
const successor = process.env.VEZA_TEST_CLIENT === 'prometheus-io';
if (process.env.VEZA_TEST_CLIENT && !successor)
  throw new Error(`VEZA_TEST_CLIENT must be "prometheus-io" or unset, got ${process.env.VEZA_TEST_CLIENT}`);

/**
 * VEZA_PEERS_DIR=/tmp/x runs the specs against the packages installed there, outside the repository
 * (`npm install` of other versions in /tmp/x): every import of a dependency named in /tmp/x's
 * package.json (the specs', the library's, and the packages' own) gets /tmp/x's copy, as in an
 * application that installed those versions; the contract specs name what they ran against. The
 * headers of the Prisma, cache-manager and terminus contract specs say how to install each folder;
 * docs/databases.md ("Prisma versions"), docs/caches.md and docs/health.md say what passed.
 */
const peersDir = process.env.VEZA_PEERS_DIR;
const peerMappings = {};
if (peersDir) {
  const { join, resolve } = require('node:path');
  const manifest = require(resolve(peersDir, 'package.json'));
  for (const name of Object.keys(manifest.dependencies ?? {}))
    peerMappings[`^${name.replace(/[.+?^${}()|[\]\\]/g, '\\$&')}(/.*)?$`] =
      `${join(resolve(peersDir), 'node_modules', name)}$1`;
}

// The e2e specs start real apps, brokers and processes over real sockets: on a loaded 2-core machine
// (load average 15 to 20) jest's default 5 s per test was hit by tests that take 0.2 s when quiet.
// A test's own deadline is where a test needs one; speed is measured by the benchmarks, never here.
const testTimeout = 60_000;

/** The contract tier, relative to the repository (`*` within a folder, `**\/` any folders). */
const CONTRACT = [
  // The seams into other packages' internals and their contract tests (docs/internals.md).
  'test/unit/compat-*.spec.ts',
  'test/unit/*-contract.spec.ts',
  'test/unit/seams.spec.ts',
  // The structure of src/: foundations import no feature folder, `@internal` members are read only
  // in their own folder (the type checker over src/).
  'test/unit/import-graph.spec.ts',
  'test/unit/internal-reads.spec.ts',
  // The compiler: emitted declarations without either client's types, the public API's TSDoc and
  // exports, the options reference and tables in docs/ against the sources and specs.
  'test/unit/client-seam.spec.ts',
  'test/unit/public-api.spec.ts',
  'test/unit/docs.spec.ts',
  // The package as users install it: npm pack, a fresh consumer.
  'test/pack/**/*.spec.ts',
  'test/pack/**/*.e2e-spec.ts',
];

/** A CONTRACT entry as a testPathIgnorePatterns regex. */
const toRegex = (glob) =>
  '^<rootDir>/' +
  glob
    .split('**/')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^/]*'))
    .join('(?:.*/)?') +
  '$';

/** What every tier shares. */
const shared = {
  rootDir: __dirname,
  testEnvironment: 'node',
  testTimeout,
  roots: ['<rootDir>/src', '<rootDir>/test'],
  moduleFileExtensions: ['ts', 'js', 'mjs', 'cjs', 'json'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { tsconfig: '<rootDir>/tsconfig.json' }],
    '^.+\\.m?js$': '<rootDir>/docs/jest/esm-to-cjs.transformer.js',
  },
  // Only node_modules are transformed by the ESM transformer, and it skips CommonJS packages itself.
  transformIgnorePatterns: ['^(?!.*node_modules).*\\.js$'],
  moduleNameMapper: {
    '^@veza/nestjs-metrics$': '<rootDir>/src/index.ts',
    '^@veza/nestjs-metrics/testing$': '<rootDir>/src/testing/index.ts',
    ...(successor ? { '^prom-client$': '<rootDir>/node_modules/@prometheus-io/client' } : {}),
    ...peerMappings,
  },
  testPathIgnorePatterns: ['/node_modules/'],
};

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testTimeout,
  // Two workers at least (jest's default on a 2-core machine is one), four at most: the e2e specs
  // start brokers, Prometheus and child processes, and a worker holds up to about 1 GB.
  maxWorkers: Math.min(4, Math.max(2, require('node:os').availableParallelism() - 1)),
  // The longest spec files first (test/jest/sequencer.js), also on a clean clone with no timings cached.
  testSequencer: '<rootDir>/test/jest/sequencer.js',
  // A worker past this much memory once a file is done is replaced by a fresh one: the e2e specs that
  // force full garbage collections to measure a heap bound took 8 to 9 times as long late in a worker
  // that had grown to 1.5 GB (slow-scrapers 288 s on 2 workers against 32 s in band).
  workerIdleMemoryLimit: '700MB',
  projects: [
    {
      ...shared,
      displayName: 'unit',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/test/unit/**/*.spec.ts'],
      testPathIgnorePatterns: [...shared.testPathIgnorePatterns, ...CONTRACT.map(toRegex)],
    },
    { ...shared, displayName: 'contract', testMatch: CONTRACT.map((glob) => `<rootDir>/${glob}`) },
    { ...shared, displayName: 'e2e', testMatch: ['<rootDir>/test/e2e/**/*.e2e-spec.ts'] },
    { ...shared, displayName: 'stress', testMatch: ['<rootDir>/test/stress/**/*.stress-spec.ts'] },
  ],
};
