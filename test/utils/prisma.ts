/**
 * A generated Prisma client for the specs (Prisma 7, generator `prisma-client-js`, plain JavaScript),
 * made on first use from the schema below into a directory of the system's temporary folder named
 * by the hash of the checkout's path, the installed Prisma's version and the schema, and reused
 * after (one generation per checkout and Prisma version, 1.5 s; processes generating at once each
 * generate into a folder of their own and the first rename wins).
 *
 * These machines reach the npm registry and Debian's packages only: `prisma generate` first fetches
 * its schema engine from binaries.prisma.sh and fails (`getaddrinfo ENOTFOUND binaries.prisma.sh`).
 * Generation needs no engine, so `PRISMA_SCHEMA_ENGINE_BINARY` points at `true`; a client with a
 * driver adapter needs no engine either (its query compiler is WebAssembly in @prisma/client).
 * Migrations need the engine: the specs create their tables with plain SQL (`PRISMA_TABLES_SQL`).
 *
 * VEZA_PEERS_DIR=/tmp/x takes prisma, @prisma/client and @prisma/adapter-pg from /tmp/x/node_modules
 * (another version, installed outside the repository with `npm install --ignore-scripts`: the
 * engines' postinstall download fails here). Prisma 6 takes the same schema with
 * `engineType = "client"` (its Rust-free client: query compiler in WebAssembly, driver adapter) and
 * the `url` its datasource still requires; its `prisma generate` also fetches the query engine
 * library (`libquery_engine-*.so.node`, unused by that client), so `PRISMA_QUERY_ENGINE_LIBRARY`
 * points at `true` too.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { PrismaPg } from '@prisma/adapter-pg';
import { Client, Pool } from 'pg';

const ROOT = join(__dirname, '..', '..');

/** Where prisma, @prisma/client and @prisma/adapter-pg are taken from: the repository's, or VEZA_PEERS_DIR's. */
const MODULES = process.env.VEZA_PEERS_DIR
  ? join(resolve(process.env.VEZA_PEERS_DIR), 'node_modules')
  : join(ROOT, 'node_modules');

/** The specs' schema: two models, `Track` with a unique `title`. */
export const PRISMA_SCHEMA = `
generator client {
  provider = "prisma-client-js"
  output   = "./client"
}
datasource db {
  provider = "postgresql"
}
model Track {
  id     Int    @id @default(autoincrement())
  title  String @unique
  plays  Int    @default(0)
}
model Album {
  id    Int    @id @default(autoincrement())
  name  String
}
`;

/**
 * PRISMA_SCHEMA with Prisma 7's other generator, `prisma-client` (TypeScript files, here as
 * CommonJS), whose client is `client/client.ts`.
 */
export const PRISMA_CLIENT_TS_SCHEMA = PRISMA_SCHEMA.replace(
  'provider = "prisma-client-js"',
  'provider = "prisma-client"\n  moduleFormat = "cjs"\n  importFileExtension = ""',
);

/** The tables of PRISMA_SCHEMA, in PostgreSQL (Prisma's own names: the models' names, quoted). */
export const PRISMA_TABLES_SQL = `
CREATE TABLE "Track" (id serial PRIMARY KEY, title text NOT NULL UNIQUE, plays integer NOT NULL DEFAULT 0);
CREATE TABLE "Album" (id serial PRIMARY KEY, name text NOT NULL);
`;

/** The generated client's module: its `PrismaClient` class and `Prisma` namespace. */
export interface GeneratedPrisma {
  PrismaClient: new (options: { adapter: unknown }) => PrismaLike;
  Prisma: { PrismaClientKnownRequestError: new (...args: never[]) => Error };
}

/** The parts of a generated client the specs call. */
export interface PrismaLike {
  track: ModelLike;
  album: ModelLike;
  $transaction(arg: unknown, options?: unknown): Promise<unknown>;
  $queryRawUnsafe(sql: string, ...values: unknown[]): Promise<unknown>;
  $executeRawUnsafe(sql: string, ...values: unknown[]): Promise<number>;
  $extends(extension: unknown): PrismaLike;
  $connect(): Promise<void>;
  $disconnect(): Promise<void>;
}

/** A model delegate. */
export type ModelLike = Record<
  | 'findMany'
  | 'findUnique'
  | 'findFirst'
  | 'count'
  | 'create'
  | 'createMany'
  | 'upsert'
  | 'update'
  | 'updateMany'
  | 'delete'
  | 'deleteMany'
  | 'aggregate'
  | 'groupBy',
  (args?: unknown) => Promise<unknown>
>;

/** The installed version of `pkg` (its package.json in the repository's node_modules, or VEZA_PEERS_DIR's). */
export function versionOf(pkg: string): string {
  return (JSON.parse(readFileSync(join(MODULES, pkg, 'package.json'), 'utf8')) as { version: string })
    .version;
}

/** The installed Prisma's version (package `prisma`). */
export const prismaVersion = (): string => versionOf('prisma');

/** The installed versions of prisma, @prisma/client and @prisma/adapter-pg, in a sentence. */
export const prismaVersions = (): string =>
  `prisma ${prismaVersion()}, @prisma/client ${versionOf('@prisma/client')}, @prisma/adapter-pg ${versionOf('@prisma/adapter-pg')}`;

/**
 * The generated client of `schema` (generated on first use), loaded. Throws with Prisma's output
 * when generation fails.
 */
export function generatedPrisma(given = PRISMA_SCHEMA): GeneratedPrisma {
  const major = Number(prismaVersion().split('.')[0]);
  const before7 = major < 7;
  const schema = major < 6 ? forPrisma5(given) : before7 ? forPrisma6(given) : given;
  const hash = createHash('sha256')
    .update(`${ROOT}\n${MODULES}\n${prismaVersion()}\n${schema}`)
    .digest('hex')
    .slice(0, 16);
  const dir = join(tmpdir(), `veza-prisma-${hash}`);
  const entry = schema.includes('"prisma-client-js"') ? 'index.js' : 'client.ts';
  if (!existsSync(join(dir, 'client', entry))) {
    const work = `${dir}.${process.pid}.${Date.now()}`;
    mkdirSync(work, { recursive: true });
    // The generated client requires @prisma/client's runtime: resolved through this link.
    symlinkSync(MODULES, join(work, 'node_modules'), 'dir');
    writeFileSync(join(work, 'schema.prisma'), schema);
    const run = spawnSync(
      process.execPath,
      [join(MODULES, 'prisma', 'build', 'index.js'), 'generate', '--schema', 'schema.prisma'],
      {
        cwd: work,
        encoding: 'utf8',
        env: {
          ...process.env,
          PRISMA_SCHEMA_ENGINE_BINARY: '/bin/true',
          ...(before7 ? { PRISMA_QUERY_ENGINE_LIBRARY: '/bin/true' } : {}),
          CHECKPOINT_DISABLE: '1',
          PRISMA_HIDE_UPDATE_MESSAGE: '1',
        },
      },
    );
    if (run.status !== 0 || !existsSync(join(work, 'client', entry))) {
      rmSync(work, { recursive: true, force: true });
      throw new Error(`prisma generate failed (${run.status}): ${run.stderr || run.stdout || run.error}`);
    }
    try {
      renameSync(work, dir);
    } catch {
      // Another process generated it first: theirs is used.
      rmSync(work, { recursive: true, force: true });
    }
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- generated at run time, in a temporary folder
  return require(join(dir, 'client', entry)) as GeneratedPrisma;
}

/** A Prisma 7 schema as Prisma 6 takes it: its Rust-free client, and the datasource's `url`. */
function forPrisma6(schema: string): string {
  return schema
    .replace(/(provider = "prisma-client(?:-js)?")/, '$1\n  engineType = "client"')
    .replace('provider = "postgresql"', 'provider = "postgresql"\n  url      = env("DATABASE_URL")');
}

/**
 * A Prisma 7 schema as Prisma 5 takes it: driver adapters in preview, over its query engine library
 * (Prisma 5 has no client without the Rust engine; see docs/databases.md for what fails here).
 */
function forPrisma5(schema: string): string {
  return schema
    .replace(/(provider = "prisma-client(?:-js)?")/, '$1\n  previewFeatures = ["driverAdapters"]')
    .replace('provider = "postgresql"', 'provider = "postgresql"\n  url      = env("DATABASE_URL")');
}

/** A client of the generated schema over `@prisma/adapter-pg` to `url`. */
export function prismaClient(url: string, prisma = generatedPrisma()): PrismaLike {
  // eslint-disable-next-line @typescript-eslint/no-require-imports -- the repository's adapter, or VEZA_PEERS_DIR's
  const adapter = require(join(MODULES, '@prisma', 'adapter-pg')) as { PrismaPg: typeof PrismaPg };
  // Prisma 5's adapter takes a pg Pool only (6 and 7 take its options too).
  const pool = Number(prismaVersion().split('.')[0]) < 6 ? new Pool({ connectionString: url }) : undefined;
  return new prisma.PrismaClient({
    adapter: new adapter.PrismaPg(pool ?? { connectionString: url }),
  });
}

/** Creates PRISMA_TABLES_SQL's tables in the database at `url` (plain `pg`: no schema engine here). */
export async function createPrismaTables(url: string, sql = PRISMA_TABLES_SQL): Promise<void> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
