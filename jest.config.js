'use strict';
/**
 * VEZA_TEST_CLIENT=prometheus-io runs the specs against @prometheus-io/client (prom-client's
 * successor, Node 22+): every `prom-client` import, the specs' and the library's, gets the successor,
 * as in an application that installed only it (the library tells the two apart by shape, so it sees
 * no prom-client at all). scripts/matrix.sh runs the specs of values, guard, exemplars, renderer,
 * Pushgateway, cluster and promtool this way on Node 24.
 */
const successor = process.env.VEZA_TEST_CLIENT === 'prometheus-io';
if (process.env.VEZA_TEST_CLIENT && !successor)
  throw new Error(`VEZA_TEST_CLIENT must be "prometheus-io" or unset, got ${process.env.VEZA_TEST_CLIENT}`);

/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
  // The e2e specs start real apps, brokers and processes over real sockets: on a loaded 2-core machine
  // (load average 15 to 20) jest's default 5 s per test was hit by tests that take 0.2 s when quiet.
  // A test's own deadline is where a test needs one; speed is measured by the benchmarks, never here.
  testTimeout: 60_000,
  roots: ['<rootDir>/src', '<rootDir>/test'],
  testRegex: '\\.(spec|e2e-spec)\\.ts$',
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
  },
};
