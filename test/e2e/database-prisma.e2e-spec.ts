/**
 * Issue 23, Prisma: every query of an application's Prisma client (`class PrismaService extends
 * PrismaClient`, Prisma 7 with @prisma/adapter-pg) is timed in
 * veza_database_query_duration_seconds{operation, table} and every failed one counted in
 * veza_database_query_errors_total{operation, error_type}, with nothing but `forRoot()`; the
 * application's results and errors are Prisma's own; `database: false` or `{ prisma: false }`
 * hooks nothing; a client's model names cannot pass `maxTables`. A real PostgreSQL, started by the
 * spec; the app on Express and on Fastify.
 */
import {
  Controller,
  Get,
  Inject,
  Injectable,
  Param,
  Post,
  type INestApplication,
  type OnModuleDestroy,
} from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { ADAPTERS, scrape, startApp, type StartedApp } from '../utils/app';
import { startPostgres, type Broker } from '../utils/brokers';
import { createPrismaTables, generatedPrisma, type PrismaLike } from '../utils/prisma';
import { samples } from './http-client.fixture';

jest.setTimeout(120_000);

let pg: Broker | undefined;

const { PrismaClient } = generatedPrisma();
const Base: new (options: { adapter: unknown }) => PrismaLike = PrismaClient;

/** What the application's code sees of an error: everything a caller could branch on. */
function seen(error: unknown): Record<string, unknown> {
  const e = error as { constructor?: { name?: string }; code?: unknown; message?: unknown; meta?: unknown };
  return { class: e?.constructor?.name, code: e?.code, message: e?.message, meta: JSON.stringify(e?.meta) };
}

/** The app's own Prisma service, as the Nest docs write it. */
@Injectable()
class PrismaService extends Base implements OnModuleDestroy {
  constructor() {
    super({ adapter: new PrismaPg({ connectionString: pg!.url }) });
  }
  async onModuleDestroy(): Promise<void> {
    await this.$disconnect();
  }
}

@Controller('tracks')
class TracksController {
  constructor(@Inject(PrismaService) private readonly prisma: PrismaService) {}

  @Post(':title')
  create(@Param('title') title: string): Promise<unknown> {
    return this.prisma.track.create({ data: { title } }).catch(seen);
  }

  @Get()
  all(): Promise<unknown> {
    return this.prisma.track.findMany({ orderBy: { title: 'asc' } });
  }

  @Get('count')
  count(): Promise<unknown> {
    return this.prisma.track.count();
  }

  @Get(':title')
  one(@Param('title') title: string): Promise<unknown> {
    return this.prisma.track.findUnique({ where: { title } }).then((t) => t ?? {});
  }

  @Post(':title/play')
  play(@Param('title') title: string): Promise<unknown> {
    return this.prisma.track.update({ where: { title }, data: { plays: { increment: 1 } } }).catch(seen);
  }

  @Post(':title/delete')
  remove(@Param('title') title: string): Promise<unknown> {
    return this.prisma.track.delete({ where: { title } }).catch(seen);
  }

  @Post('album/:name')
  album(@Param('name') name: string): Promise<unknown> {
    return this.prisma.$transaction([
      this.prisma.album.create({ data: { name } }),
      this.prisma.album.count(),
    ]);
  }

  @Get('raw/broken')
  broken(): Promise<unknown> {
    return this.prisma.$queryRawUnsafe('SELECT * FROM "NoSuchTable"').catch(seen);
  }
}

async function prismaApp(
  adapter: (typeof ADAPTERS)[number],
  options: VezaMetricsModuleOptions,
): Promise<StartedApp> {
  return startApp(adapter, {
    imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, ...options })],
    controllers: [TracksController],
    providers: [PrismaService],
  });
}

/** The known set: 4 inserts (1 refused), 7 selects, 1 update, 1 refused update, 1 delete, 1 transaction of 2, 1 failed raw query. */
async function knownSet(url: string): Promise<unknown[]> {
  const call = async (method: string, path: string): Promise<unknown> => {
    const res = await fetch(`${url}${path}`, { method });
    return [res.status, await res.json()];
  };
  return [
    await call('POST', '/tracks/alpha'),
    await call('POST', '/tracks/beta'),
    await call('POST', '/tracks/gamma'),
    await call('POST', '/tracks/alpha'),
    await call('GET', '/tracks'),
    await call('GET', '/tracks/alpha'),
    await call('GET', '/tracks/nope'),
    await call('GET', '/tracks/count'),
    await call('GET', '/tracks'),
    await call('GET', '/tracks/beta'),
    await call('GET', '/tracks/gamma'),
    await call('POST', '/tracks/alpha/play'),
    await call('POST', '/tracks/nope/play'),
    await call('POST', '/tracks/gamma/delete'),
    await call('POST', '/tracks/album/first'),
    await call('GET', '/tracks/raw/broken'),
  ];
}

const DURATION = 'veza_database_query_duration_seconds_count';
const ERRORS = 'veza_database_query_errors_total';

async function emptyTables(): Promise<void> {
  const client = new Base({ adapter: new PrismaPg({ connectionString: pg!.url }) });
  await client.$executeRawUnsafe('TRUNCATE "Track", "Album" RESTART IDENTITY');
  await client.$disconnect();
}

beforeAll(async () => {
  pg = await startPostgres();
  if (pg) await createPrismaTables(pg.url);
});
afterAll(async () => {
  await pg?.stop();
});

describe.each(ADAPTERS)('Prisma on %s', (adapter) => {
  it('times every query by operation and model and counts the failed ones by Prisma code, with forRoot() alone; the app gets what it gets without the module', async () => {
    if (!pg) return;
    await emptyTables();
    const without = await prismaApp(adapter, { database: false });
    let bare: unknown[];
    try {
      bare = await knownSet(without.url);
      const text = await scrape(without.url);
      expect(text).not.toMatch(/^veza_database_query_(duration_seconds_count|errors_total)\{/m);
      // Nothing hooked: the client keeps Prisma's own tracing helper.
      const client = helperOf(without.app);
      expect(Object.prototype.hasOwnProperty.call(client._tracingHelper, 'runInChildSpan')).toBe(false);
    } finally {
      await without.app.close();
    }

    await emptyTables();
    const started = await prismaApp(adapter, {});
    try {
      expect(await knownSet(started.url)).toEqual(bare);
      const text = await scrape(started.url);
      expect(samples(text, DURATION, ['operation', 'table'])).toEqual({
        'insert Track': 4,
        'select Track': 7,
        'update Track': 2,
        'delete Track': 1,
        'insert Album': 1,
        'select Album': 1,
        'transaction <none>': 1,
        'other <none>': 1,
      });
      expect(samples(text, ERRORS, ['operation', 'error_type'])).toEqual({
        'insert P2002': 1,
        'update P2025': 1,
        'other P2010': 1,
      });
      expect(text).toContain('veza_database_query_errors_total{operation="insert",error_type="P2002"} 1');
    } finally {
      await started.app.close();
    }
  });

  it('records nothing with { prisma: false }, and stops at close (the client gets its own helper back)', async () => {
    if (!pg) return;
    const off = await prismaApp(adapter, { database: { prisma: false } });
    try {
      await fetch(`${off.url}/tracks`);
      expect(samples(await scrape(off.url), DURATION, ['operation'])).toEqual({});
    } finally {
      await off.app.close();
    }
    const on = await prismaApp(adapter, {});
    const client = helperOf(on.app);
    const hooked = client._tracingHelper;
    await on.app.close();
    expect(client._tracingHelper).not.toBe(hooked);
    expect(Object.getPrototypeOf(hooked)).toBe(client._tracingHelper);
  });

  it('keeps models past maxTables under <other>', async () => {
    if (!pg) return;
    await emptyTables();
    const capped = await prismaApp(adapter, { database: { maxTables: 1 } });
    try {
      await fetch(`${capped.url}/tracks`);
      await fetch(`${capped.url}/tracks/album/x`, { method: 'POST' });
      expect(samples(await scrape(capped.url), DURATION, ['operation', 'table'])).toEqual({
        'select Track': 1,
        'insert <other>': 1,
        'select <other>': 1,
        'transaction <none>': 1,
      });
    } finally {
      await capped.app.close();
    }
  });
});

describe('Prisma, the attacker', () => {
  it('a client reporting 50 distinct 5,000-unit model names keeps maxTables names cut to 256 units, the rest <other>; a hostile error reaches the caller untouched', async () => {
    if (!pg) return;
    const started = await prismaApp('express', { database: { maxTables: 5 } });
    try {
      const helper = helperOf(started.app)._tracingHelper;
      for (let i = 0; i < 50; i++) {
        const model = `${String(i).padStart(2, '0')}${'m'.repeat(4_998)}`;
        const value = { i };
        expect(await helper.runInChildSpan(span('findMany', model), () => Promise.resolve(value))).toBe(
          value,
        );
      }
      const hostile = Object.defineProperty({}, 'code', {
        get() {
          throw new Error('hostile getter');
        },
      });
      await expect(
        helper.runInChildSpan(span('create', 'Track'), () => Promise.reject(hostile as Error)),
      ).rejects.toBe(hostile);
      const thrown = new Error('sync');
      expect(() =>
        helper.runInChildSpan(span('create', 'Track'), () => {
          throw thrown;
        }),
      ).toThrow(thrown);
      const tables = samples(await scrape(started.url), DURATION, ['table']);
      const names = Object.keys(tables);
      expect(names).toHaveLength(6); // 5 names and <other> (Track came after the 5)
      expect(tables['<other>']).toBe(47);
      expect(Math.max(...names.map((n) => n.length))).toBe(256);
      expect(samples(await scrape(started.url), ERRORS, ['operation', 'error_type'])).toEqual({
        'insert OtherError': 1,
        'insert Error': 1,
      });
    } finally {
      await started.app.close();
    }
  });
});

/** The app's client, by the field PR1 of src/compat/prisma.ts names. */
function helperOf(app: INestApplication): { _tracingHelper: Helper } {
  return app.get<PrismaService, { _tracingHelper: Helper }>(PrismaService);
}

interface Helper {
  runInChildSpan(options: unknown, callback: () => unknown): unknown;
}

const span = (method: string, model: string): unknown => ({
  name: 'operation',
  attributes: { method, model },
});
