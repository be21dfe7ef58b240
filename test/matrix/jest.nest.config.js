'use strict';
/**
 * The repository's jest config with Nest, and the HTTP and WebSocket servers Nest brings, loaded from
 * an installed fixture app (MATRIX_NEST_DIR, e.g. a Nest 10 or 11 one): the library's own specs then
 * run against another Nest major. scripts/matrix.sh sets it; the TypeScript types stay the repository's.
 */
const base = require('../../jest.config.js');

const dir = process.env.MATRIX_NEST_DIR;
if (!dir)
  throw new Error(
    'test/matrix/jest.nest.config.js: set MATRIX_NEST_DIR to an installed fixture app (scripts/matrix.sh does)',
  );
const modules = `${dir}/node_modules`;

// Mercurius is no Nest package and its major 16 needs Fastify 5, while a fixture brings its Nest's
// own Fastify (4 for Nest 10): its contract (M1-M5) runs in the repository's rows.
const ignored = '/test/unit/compat-mercurius\\.spec\\.ts$';

/** @type {import('jest').Config} */
module.exports = {
  ...base,
  // Every tier (jest project) of the repository's config, with Nest from the fixture.
  projects: base.projects.map((project) => ({
    ...project,
    testPathIgnorePatterns: [...project.testPathIgnorePatterns, ignored],
    moduleNameMapper: {
      ...project.moduleNameMapper,
      '^@nestjs/(common|core|microservices|platform-express|platform-fastify|platform-socket\\.io|platform-ws|testing|throttler|websockets)(/.*)?$': `${modules}/@nestjs/$1$2`,
      '^(express|fastify|socket\\.io|ws)$': `${modules}/$1`,
      // Optional packages Nest loads from its own folder (ValidationPipe): the fixture does not install them.
      '^(class-validator|class-transformer)$': '<rootDir>/node_modules/$1',
    },
  })),
};
