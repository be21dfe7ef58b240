/**
 * Issue 23, databases: every statement of every TypeORM DataSource of an application (default and
 * named) is timed in veza_database_query_duration_seconds{operation, table} and every failed one
 * counted in veza_database_query_errors_total{operation, error_type}, with `forRoot()` alone; the
 * connections of PostgreSQL pools in use are veza_database_connections_active. Real Nest apps over
 * real HTTP on Express and Fastify, TypeORM on sql.js and on a real PostgreSQL started by the spec.
 */
import { Controller, Get, Module, Param, Post, Query, type DynamicModule } from '@nestjs/common';
import { getDataSourceToken, InjectDataSource, InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Client } from 'pg';
import { Column, DataSource, Entity, PrimaryGeneratedColumn, Repository } from 'typeorm';
import { VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { DatabaseMetricsRecorder } from '../../src/database/database-metrics.recorder';
import { ADAPTERS, scrape, startApp, type AdapterKind, type StartedApp } from '../utils/app';
import { startPostgres, type Broker } from '../utils/brokers';
import { samples } from './http-client.fixture';

jest.setTimeout(120_000);

@Entity()
class Track {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column({ unique: true })
  title!: string;
}

@Entity('audit_entry')
class AuditEntry {
  @PrimaryGeneratedColumn()
  id!: number;

  @Column()
  what!: string;
}

@Controller()
class TracksController {
  constructor(
    @InjectRepository(Track) private readonly tracks: Repository<Track>,
    @InjectRepository(AuditEntry, 'audit') private readonly audit: Repository<AuditEntry>,
    @InjectDataSource() private readonly db: DataSource,
  ) {}

  @Post('tracks/:title')
  async add(@Param('title') title: string): Promise<Track> {
    return this.tracks.save(this.tracks.create({ title }));
  }

  @Get('tracks')
  list(): Promise<Track[]> {
    return this.tracks.find();
  }

  @Get('broken')
  async broken(): Promise<string> {
    try {
      await this.db.query('SELECT * FROM "missing_table"');
      return 'no error';
    } catch (error) {
      return `${(error as Error).constructor.name}: ${(error as { code?: string }).code ?? '-'}`;
    }
  }

  @Get('raw')
  async raw(@Query('table') table: string): Promise<string> {
    try {
      await this.db.query(`SELECT * FROM "${table.replace(/"/g, '""')}"`);
      return 'ok';
    } catch {
      return 'failed';
    }
  }

  @Post('audit/:what')
  async note(@Param('what') what: string): Promise<AuditEntry> {
    return this.audit.save(this.audit.create({ what }));
  }
}

type Engine = { kind: 'sqljs' } | { kind: 'postgres'; url: string; auditUrl: string };

function dataSourceOptions(engine: Engine, name?: string) {
  const entities = name ? [AuditEntry] : [Track];
  if (engine.kind === 'sqljs')
    return { type: 'sqljs' as const, synchronize: true, entities, ...(name ? { name } : {}) };
  return {
    type: 'postgres' as const,
    url: name ? engine.auditUrl : engine.url,
    dropSchema: true,
    synchronize: true,
    entities,
    ...(name ? { name } : {}),
  };
}

function appModule(engine: Engine, options: VezaMetricsModuleOptions = {}): DynamicModule {
  @Module({
    imports: [
      VezaMetricsModule.forRoot({ defaultMetrics: false, ...options }),
      TypeOrmModule.forRoot(dataSourceOptions(engine)),
      TypeOrmModule.forRoot(dataSourceOptions(engine, 'audit')),
      TypeOrmModule.forFeature([Track]),
      TypeOrmModule.forFeature([AuditEntry], 'audit'),
    ],
    controllers: [TracksController],
  })
  class AppModule {}
  return { module: AppModule };
}

async function call(url: string, method: 'GET' | 'POST', path: string): Promise<string> {
  const res = await fetch(`${url}${path}`, { method });
  return res.text();
}

/** The known traffic: 4 saves, 7 finds, 2 failing selects, 1 save in the named DataSource. */
async function knownTraffic(url: string): Promise<string[]> {
  for (const t of ['a', 'b', 'c', 'd']) await call(url, 'POST', `/tracks/${t}`);
  for (let i = 0; i < 7; i++) await call(url, 'GET', '/tracks');
  const broken = [await call(url, 'GET', '/broken'), await call(url, 'GET', '/broken')];
  await call(url, 'POST', '/audit/login');
  return broken;
}

/** CREATE DATABASE, tried again while the server says it is still starting up (57P03). */
async function createDatabase(url: string, name: string): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.query(`CREATE DATABASE ${name}`);
      return;
    } catch (error) {
      if ((error as { code?: string }).code !== '57P03' || attempt > 300) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

const DURATION = 'veza_database_query_duration_seconds_count';
const ERRORS = 'veza_database_query_errors_total';

/** Counts of the families as they stand, to compare before and after traffic (start-up DDL excluded). */
function delta(before: string, after: string, name: string, labels: string[]): Record<string, number> {
  const a = samples(before, name, labels);
  const b = samples(after, name, labels);
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(b)) if (v - (a[k] ?? 0) !== 0) out[k] = v - (a[k] ?? 0);
  return out;
}

async function withApp<T>(
  adapter: AdapterKind,
  engine: Engine,
  options: VezaMetricsModuleOptions,
  body: (started: StartedApp) => Promise<T>,
): Promise<T> {
  const started = await startApp(adapter, { imports: [appModule(engine, options)] });
  try {
    return await body(started);
  } finally {
    await started.app.close();
  }
}

describe.each(ADAPTERS)('TypeORM on %s', (adapter) => {
  describe('sql.js', () => {
    const engine: Engine = { kind: 'sqljs' };

    it('times every statement of both DataSources by operation and table, and counts failures by SQLite code', async () => {
      await withApp(adapter, engine, {}, async ({ url }) => {
        const before = await scrape(url);
        const broken = await knownTraffic(url);
        expect(broken).toEqual(['QueryFailedError: SQLITE_ERROR', 'QueryFailedError: SQLITE_ERROR']); // TypeORM's own error, as without the module
        const after = await scrape(url);
        // save() runs BEGIN TRANSACTION, INSERT, COMMIT: the transaction's statements each count.
        expect(delta(before, after, DURATION, ['operation', 'table'])).toEqual({
          'insert track': 4,
          'select track': 7,
          'select missing_table': 2,
          'insert audit_entry': 1,
          'transaction <none>': 10,
        });
        expect(delta(before, after, ERRORS, ['operation', 'error_type'])).toEqual({
          'select SQLITE_ERROR': 2,
        });
        expect(after).toContain(`\n${DURATION}{operation="insert",table="track"} 4\n`);
        expect(after).toContain(`\n${ERRORS}{operation="select",error_type="SQLITE_ERROR"} 2\n`);
        // sql.js has no pool: the gauge is left to the application.
        expect(after).toContain('\nveza_database_connections_active 0\n');
      });
    });

    it('database: false records nothing and adds nothing to the DataSources', async () => {
      await withApp(adapter, engine, { database: false }, async ({ app, url }) => {
        await knownTraffic(url);
        const text = await scrape(url);
        expect(samples(text, DURATION, ['operation'])).toEqual({});
        expect(samples(text, ERRORS, ['operation'])).toEqual({});
        for (const name of [undefined, 'audit']) {
          const ds = app.get<DataSource>(getDataSourceToken(name), { strict: false });
          expect(ds.subscribers).toEqual([]);
        }
      });
    });

    it('hostile table names cannot grow the table label past database.maxTables', async () => {
      await withApp(adapter, engine, { database: { maxTables: 3 } }, async ({ url }) => {
        await call(url, 'POST', '/tracks/x'); // track: the first table
        for (let i = 0; i < 40; i++) {
          const name = encodeURIComponent(`evil_${i}_${'x'.repeat(300)}`);
          expect(await call(url, 'GET', `/raw?table=${name}`)).toBe('failed');
        }
        const tables = Object.keys(samples(await scrape(url), DURATION, ['table']));
        expect(tables.sort()).toEqual(
          ['<none>', '<other>', 'track', `evil_0_${'x'.repeat(121)}`, `evil_1_${'x'.repeat(121)}`].sort(),
        );
      });
    });

    it('a failure inside the recording does not reach the application', async () => {
      const spy = jest.spyOn(DatabaseMetricsRecorder.prototype, 'recordStatement').mockImplementation(() => {
        throw new Error('recording broke');
      });
      const classify = jest
        .spyOn(DatabaseMetricsRecorder.prototype, 'recordStatementError')
        .mockImplementation(() => {
          throw new Error('recording broke too');
        });
      try {
        await withApp(adapter, engine, {}, async ({ url }) => {
          expect(JSON.parse(await call(url, 'POST', '/tracks/ok'))).toEqual({ id: 1, title: 'ok' });
          expect(JSON.parse(await call(url, 'GET', '/tracks'))).toEqual([{ id: 1, title: 'ok' }]);
          expect(await call(url, 'GET', '/broken')).toBe('QueryFailedError: SQLITE_ERROR');
          expect(spy).toHaveBeenCalled();
          expect(classify).toHaveBeenCalled();
        });
      } finally {
        spy.mockRestore();
        classify.mockRestore();
      }
    });
  });

  describe('PostgreSQL', () => {
    let pg: Broker | undefined;
    let engine: Engine;
    beforeAll(async () => {
      pg = await startPostgres();
      if (!pg) return;
      await createDatabase(pg.url, 'audit');
      engine = { kind: 'postgres', url: pg.url, auditUrl: pg.url.replace(/\/postgres$/, '/audit') };
    });
    afterAll(async () => {
      await pg?.stop();
    });

    it('the same numbers, errors by SQLSTATE, and the pools’ connections in use summed', async () => {
      if (!pg) return;
      await withApp(adapter, engine, {}, async ({ app, url }) => {
        const before = await scrape(url);
        const broken = await knownTraffic(url);
        expect(broken).toEqual(['QueryFailedError: 42P01', 'QueryFailedError: 42P01']);
        const after = await scrape(url);
        expect(delta(before, after, DURATION, ['operation', 'table'])).toEqual({
          'insert track': 4,
          'select track': 7,
          'select missing_table': 2,
          'insert audit_entry': 1,
          'transaction <none>': 10,
        });
        expect(delta(before, after, ERRORS, ['operation', 'error_type'])).toEqual({ 'select 42P01': 2 });
        expect(after).toContain(`\n${ERRORS}{operation="select",error_type="42P01"} 2\n`);
        expect(after).toContain('\nveza_database_connections_active 0\n');

        const main = app.get<DataSource>(getDataSourceToken(), { strict: false });
        const audit = app.get<DataSource>(getDataSourceToken('audit'), { strict: false });
        const held = [main.createQueryRunner(), main.createQueryRunner(), audit.createQueryRunner()];
        for (const runner of held) await runner.connect();
        try {
          expect(await scrape(url)).toContain('\nveza_database_connections_active 3\n');
        } finally {
          for (const runner of held) await runner.release();
        }
        expect(await scrape(url)).toContain('\nveza_database_connections_active 0\n');
      });
    });
  });
});
