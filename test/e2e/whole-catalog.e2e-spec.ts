/**
 * Issue 23, acceptance: the app the issue describes, as a new user writes it — Nest 12 with TypeORM,
 * `@nestjs/cache-manager`, `@nestjs/terminus` and global `fetch` — with only
 * `VezaMetricsModule.forRoot()` added, and no other line of the app's code aware of the module.
 * Known traffic over real HTTP: 4 inserts, 7 finds and 2 failing selects; 1 cache write, 3 hits and
 * 5 misses (the hits and one miss through `CacheInterceptor`, the other misses direct
 * `CACHE_MANAGER` reads); 2 health checks of `storage`; 3 outbound 200s and 2 outbound 503s to a
 * local server. /metrics then holds exactly those counts, line for line, on Express and on Fastify,
 * with TypeORM on sql.js and on PostgreSQL.
 *
 * The schema is there before the app starts (a migrated database: bytes given to sql.js, a table
 * made over `pg` for PostgreSQL), so the only queries are the app's own. Also: a pool connection
 * the app holds counts in `veza_database_connections_active` (PostgreSQL); the answers are those of
 * the same app without the module; with `database`, `cache`, `health` and `outbound` false none of
 * those families has a sample.
 */
import { accessSync, constants } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import {
  Body,
  Controller,
  Get,
  Inject,
  Injectable,
  Module,
  NotFoundException,
  Param,
  Post,
  UseInterceptors,
  type DynamicModule,
  type INestApplication,
} from '@nestjs/common';
import { CACHE_MANAGER, CacheInterceptor, CacheModule, type Cache } from '@nestjs/cache-manager';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TerminusModule,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import { Column, DataSource, Entity, PrimaryGeneratedColumn, type Repository } from 'typeorm';
import { VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { ADAPTERS, scrape, startApp, type AdapterKind } from '../utils/app';
import { startPostgres, type Broker } from '../utils/brokers';
import { rawRequest } from '../utils/raw-http';

jest.setTimeout(120_000);

// ---------------------------------------------------------------------------------------------
// The application, as its author wrote it (nothing below knows of the metrics module).

@Entity('tracks')
class Track {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ type: 'varchar', length: 200 })
  title!: string;
}

const SCHEMA = 'CREATE TABLE tracks (id INTEGER PRIMARY KEY AUTOINCREMENT, title VARCHAR(200) NOT NULL)';
const PG_SCHEMA = 'CREATE TABLE tracks (id SERIAL PRIMARY KEY, title VARCHAR(200) NOT NULL)';

/** Where the app's outbound calls go (the "catalog service" it depends on). */
const UPSTREAM_URL = Symbol('UPSTREAM_URL');

@Controller('tracks')
class TracksController {
  constructor(@InjectRepository(Track) private readonly tracks: Repository<Track>) {}

  @Post()
  async create(@Body() body: { title: string }): Promise<{ id: number }> {
    const result = await this.tracks.insert({ title: body.title });
    return { id: Number(result.identifiers[0]?.id) };
  }

  @Get()
  list(): Promise<Track[]> {
    return this.tracks.find({ order: { id: 'ASC' } });
  }

  // A query with a mistake in it: the driver refuses it, the route answers 500.
  @Get('by-rating')
  byRating(): Promise<Track[]> {
    return this.tracks.createQueryBuilder('t').where('t.rating > :min', { min: 3 }).getMany();
  }

  @Get(':id')
  async get(@Param('id') id: string): Promise<Track> {
    const track = await this.tracks.findOneBy({ id: Number(id) });
    if (!track) throw new NotFoundException();
    return track;
  }
}

@Controller()
class CachedController {
  constructor(@Inject(CACHE_MANAGER) private readonly cache: Cache) {}

  // Cached by the interceptor: the first request misses and writes, the next ones hit.
  @Get('charts/top')
  @UseInterceptors(CacheInterceptor)
  top(): { top: string[] } {
    return { top: ['a-forest', 'heroes'] };
  }

  // A direct read of the cache.
  @Get('settings/:key')
  async setting(@Param('key') key: string): Promise<{ value: unknown }> {
    return { value: (await this.cache.get(key)) ?? null };
  }
}

/** A storage check: the app's scratch folder is writable (one system call, no I/O queue). */
@Injectable()
class StorageHealth {
  constructor(private readonly indicators: HealthIndicatorService) {}

  isHealthy(key: string): HealthIndicatorResult {
    const check = this.indicators.check(key);
    try {
      accessSync(tmpdir(), constants.W_OK);
      return check.up();
    } catch (error) {
      return check.down(String(error));
    }
  }
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly storage: StorageHealth,
  ) {}

  @Get()
  @HealthCheck()
  check(): Promise<unknown> {
    return this.health.check([() => this.storage.isHealthy('storage')]);
  }
}

@Controller('catalog')
class CatalogController {
  constructor(@Inject(UPSTREAM_URL) private readonly upstream: string) {}

  // Asks the upstream service with global fetch and tells what it answered.
  @Get(':what')
  async ask(@Param('what') what: string): Promise<{ upstream: number }> {
    const res = await fetch(`${this.upstream}/${what}`);
    await res.arrayBuffer();
    return { upstream: res.status };
  }
}

type Database = { kind: 'sqljs'; bytes: Uint8Array } | { kind: 'postgres'; url: string };

/**
 * The app's module: with `forRoot()` (`true`), with `forRoot(options)`, or (`false`) the same app
 * before the one line of the module was added.
 */
function appModule(
  database: Database,
  upstream: string,
  metrics: boolean | VezaMetricsModuleOptions = true,
): DynamicModule {
  @Module({
    imports: [
      ...(metrics === false ? [] : [VezaMetricsModule.forRoot(metrics === true ? undefined : metrics)]),
      TypeOrmModule.forRoot(
        database.kind === 'sqljs'
          ? { type: 'sqljs', database: database.bytes, entities: [Track] }
          : { type: 'postgres', url: database.url, entities: [Track] },
      ),
      TypeOrmModule.forFeature([Track]),
      CacheModule.register(),
      TerminusModule,
    ],
    controllers: [TracksController, CachedController, HealthController, CatalogController],
    providers: [StorageHealth, { provide: UPSTREAM_URL, useValue: upstream }],
  })
  class AppModule {}
  return { module: AppModule };
}

// ---------------------------------------------------------------------------------------------
// The known traffic.

/** Each request the test sends, with the status the app answers. */
const TRAFFIC: ReadonlyArray<[method: 'GET' | 'POST', path: string, status: number, body?: object]> = [
  // 4 inserts
  ['POST', '/tracks', 201, { title: 'A Forest' }],
  ['POST', '/tracks', 201, { title: 'Heroes' }],
  ['POST', '/tracks', 201, { title: 'Atmosphere' }],
  ['POST', '/tracks', 201, { title: 'Ceremony' }],
  // 7 finds: 3 lists, 4 by id (one of them finds nothing)
  ['GET', '/tracks', 200],
  ['GET', '/tracks/1', 200],
  ['GET', '/tracks/2', 200],
  ['GET', '/tracks', 200],
  ['GET', '/tracks/4', 200],
  ['GET', '/tracks/99', 404],
  ['GET', '/tracks', 200],
  // 2 failing selects
  ['GET', '/tracks/by-rating', 500],
  ['GET', '/tracks/by-rating', 500],
  // cache: the interceptor's miss and write, then 3 hits; 4 direct reads that find nothing
  ['GET', '/charts/top', 200],
  ['GET', '/charts/top', 200],
  ['GET', '/charts/top', 200],
  ['GET', '/charts/top', 200],
  ['GET', '/settings/theme', 200],
  ['GET', '/settings/locale', 200],
  ['GET', '/settings/theme', 200],
  ['GET', '/settings/volume', 200],
  // 2 health checks of `storage`
  ['GET', '/health', 200],
  ['GET', '/health', 200],
  // 3 outbound 200s, 2 outbound 503s
  ['GET', '/catalog/ok', 200],
  ['GET', '/catalog/down', 200],
  ['GET', '/catalog/ok', 200],
  ['GET', '/catalog/down', 200],
  ['GET', '/catalog/ok', 200],
];

/** Sends {@link TRAFFIC} in order; resolves with each answer as `<status> <body>`. */
async function sendTraffic(url: string): Promise<string[]> {
  const answers: string[] = [];
  const wrong: string[] = [];
  for (const [method, path, status, body] of TRAFFIC) {
    const res = await rawRequest(url, path, {
      method,
      headers: body ? { 'content-type': 'application/json' } : {},
      body: body ? JSON.stringify(body) : undefined,
    });
    answers.push(`${res.status} ${res.body}`);
    if (res.status !== status) wrong.push(`${method} ${path}: ${res.status} (${res.body.slice(0, 200)})`);
  }
  expect(wrong).toEqual([]);
  return answers;
}

/** The upstream service: 200 on /ok, 503 on /down. */
async function startUpstream(): Promise<{ server: Server; url: string; host: string }> {
  const server = createServer((req, res) => {
    res.statusCode = req.url === '/ok' ? 200 : 503;
    res.end(req.url === '/ok' ? 'fine' : 'down for maintenance');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}` };
}

/** A migrated sql.js database, as bytes (sql.js's own API, before the app and its module exist). */
async function sqljsDatabase(): Promise<Uint8Array> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const initSqlJs = require('sql.js') as () => Promise<{
    Database: new () => { run(sql: string): void; export(): Uint8Array; close(): void };
  }>;
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run(SCHEMA);
  const bytes = db.export();
  db.close();
  return bytes;
}

/** A fresh PostgreSQL database with the table, made over `pg` directly. */
async function postgresDatabase(server: Broker, name: string): Promise<string> {
  const admin = new Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = server.url.replace(/\/postgres$/, `/${name}`);
  const client = new Client({ connectionString: url });
  await client.connect();
  await client.query(PG_SCHEMA);
  await client.end();
  return url;
}

/** Every sample line of /metrics for the families `names`, sorted. */
function familyLines(text: string, names: readonly string[]): string[] {
  return text
    .split('\n')
    .filter(
      (line) =>
        !line.startsWith('#') && names.some((n) => line.startsWith(n + '{') || line.startsWith(n + ' ')),
    )
    .sort();
}

// ---------------------------------------------------------------------------------------------

let upstream: Awaited<ReturnType<typeof startUpstream>>;
let postgres: Broker | undefined;

beforeAll(async () => {
  upstream = await startUpstream();
  postgres = await startPostgres();
});
afterAll(async () => {
  await new Promise((resolve) => upstream.server.close(resolve));
  await postgres?.stop();
});

/**
 * Starts the app, sends the traffic, lets `then` look at the running app; resolves with the answers
 * and (with the module) /metrics.
 */
async function run(
  adapter: AdapterKind,
  database: Database,
  metrics: boolean | VezaMetricsModuleOptions = true,
  then?: (app: INestApplication, url: string) => Promise<void>,
): Promise<{ answers: string[]; text: string }> {
  const { app, url } = await startApp(adapter, { imports: [appModule(database, upstream.url, metrics)] });
  try {
    const answers = await sendTraffic(url);
    await then?.(app, url);
    return { answers, text: metrics === false ? '' : await scrape(url) };
  } finally {
    await app.close();
  }
}

describe.each(ADAPTERS)('the issue 23 app on %s', (adapter) => {
  it('with TypeORM on sql.js: exactly the counts of its queries, cache reads, health checks and outbound calls', async () => {
    const { text } = await run(adapter, { kind: 'sqljs', bytes: await sqljsDatabase() });
    expect(familyLines(text, FAMILIES)).toEqual(expected('sqljs', upstream.host));
    // What the app handled is never a label: cache keys, rows, SQL, the driver's message, the path called.
    const leaks = ['theme', 'locale', 'volume', 'Heroes', 't.rating', 'no such column', '/down'];
    expect(leaks.filter((value) => text.includes(value))).toEqual([]);
  });

  it('answers every request exactly as the same app without the module does', async () => {
    const bare = await run(adapter, { kind: 'sqljs', bytes: await sqljsDatabase() }, false);
    const measured = await run(adapter, { kind: 'sqljs', bytes: await sqljsDatabase() });
    expect(measured.answers).toEqual(bare.answers);
  });

  it('with database, cache, health and outbound switched off: no sample of their families, the same answers', async () => {
    const off = { database: false, cache: false, health: false, outbound: false } as const;
    const bare = await run(adapter, { kind: 'sqljs', bytes: await sqljsDatabase() }, false);
    const measured = await run(adapter, { kind: 'sqljs', bytes: await sqljsDatabase() }, off);
    // The catalog's unlabelled gauge keeps its line, 0, as it had before issue 23; nothing else.
    expect(familyLines(measured.text, FAMILIES)).toEqual(['veza_database_connections_active 0']);
    // The HTTP server side is still counted: the module is there, its integrations are not.
    expect(measured.text).toContain(
      'veza_http_requests_total{method="GET",endpoint="/catalog/:what",status="2xx"} 5',
    );
    expect(measured.answers).toEqual(bare.answers);
  });

  it('with TypeORM on PostgreSQL: the same counts', async () => {
    if (!postgres) return;
    const url = await postgresDatabase(postgres, `whole_catalog_${adapter}`);
    let held = '';
    const { text } = await run(adapter, { kind: 'postgres', url }, true, async (app, base) => {
      // A connection checked out of the pool, as a transaction holds one: counted while held.
      const runner = app.get(DataSource).createQueryRunner();
      await runner.connect();
      try {
        held = await scrape(base);
      } finally {
        await runner.release();
      }
    });
    expect(familyLines(held, ['veza_database_connections_active'])).toEqual([
      'veza_database_connections_active 1',
    ]);
    expect(familyLines(text, FAMILIES)).toEqual(expected('postgres', upstream.host));
  });
});

// ---------------------------------------------------------------------------------------------
// The expectations: exact lines of each family (counts; durations by their _count), sorted.

const FAMILIES = [
  'veza_database_query_duration_seconds_count',
  'veza_database_query_errors_total',
  'veza_database_connections_active',
  'veza_cache_hits_total',
  'veza_cache_misses_total',
  'veza_health_check_duration_ms_count',
  'veza_health_check_status',
  'veza_http_client_requests_total',
  'veza_http_client_request_duration_seconds_count',
];

function expected(database: Database['kind'], host: string): string[] {
  return [
    'veza_database_query_duration_seconds_count{operation="insert",table="tracks"} 4',
    // The 7 finds and the 2 failing selects: a failed query is timed too (docs/databases.md).
    'veza_database_query_duration_seconds_count{operation="select",table="tracks"} 9',
    // The driver's code: SQLite's result code for sql.js (its errors carry only the message),
    // PostgreSQL's SQLSTATE 42703 (undefined_column).
    `veza_database_query_errors_total{operation="select",error_type="${database === 'sqljs' ? 'SQLITE_ERROR' : '42703'}"} 2`,
    // Connections in use when Prometheus scrapes: none (sql.js has no pool; PostgreSQL's are idle).
    'veza_database_connections_active 0',
    'veza_cache_hits_total{subsystem="memory"} 3',
    'veza_cache_misses_total{subsystem="memory"} 5',
    'veza_health_check_duration_ms_count{service="storage"} 2',
    'veza_health_check_status{service="storage"} 1',
    `veza_http_client_requests_total{method="GET",host="${host}",status="2xx"} 3`,
    `veza_http_client_requests_total{method="GET",host="${host}",status="5xx"} 2`,
    `veza_http_client_request_duration_seconds_count{method="GET",host="${host}"} 5`,
  ].sort();
}
