'use strict';
/** @type {import('jest').Config} */
module.exports = {
  rootDir: __dirname,
  testEnvironment: 'node',
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
  },
};
