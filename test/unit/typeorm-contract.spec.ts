/**
 * Contract tests of src/compat/typeorm.ts: each assumption it makes of TypeORM, by its id, against
 * the installed version on sql.js (TO4's pool against pg-pool's public getters; the e2e spec
 * test/e2e/database-typeorm.e2e-spec.ts reads a real PostgreSQL pool). A failure names the
 * assumption that broke and the version.
 *
 * Against another TypeORM (0.3), installed outside the repository with sql.js beside it:
 *   VEZA_TYPEORM_DIR=/tmp/typeorm03/node_modules/typeorm npx jest test/unit/typeorm-contract.spec.ts
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  connectionsInUse,
  driverError,
  isDataSource,
  listenToStatements,
  type DataSourceLike,
} from '../../src/compat/typeorm';

const dir = process.env.VEZA_TYPEORM_DIR ?? join(require.resolve('typeorm'), '..');
// eslint-disable-next-line @typescript-eslint/no-require-imports
const typeorm = require(dir) as typeof import('typeorm');
const version = (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
const against = `typeorm ${version}`;

const broke = (id: string, what: string): string =>
  `${against} no longer meets ${id} of src/compat/typeorm.ts: ${what}`;

const Track = new typeorm.EntitySchema<{ id: number; title: string }>({
  name: 'Track',
  tableName: 'track',
  columns: {
    id: { type: Number, primary: true, generated: true },
    title: { type: String, unique: true },
  },
});

interface Heard {
  ok: boolean;
  sql: string;
  seconds: number;
  code?: unknown;
}

function listen(ds: DataSourceLike): { heard: Heard[]; stop: () => void } {
  const heard: Heard[] = [];
  const stop = listenToStatements(ds, {
    succeeded: (sql, seconds) => heard.push({ ok: true, sql: String(sql), seconds }),
    failed: (sql, seconds, error) =>
      heard.push({
        ok: false,
        sql: String(sql),
        seconds,
        code: (driverError(ds, error) as { code?: unknown }).code,
      }),
  });
  return { heard, stop };
}

describe(`TypeORM assumptions (${against})`, () => {
  let ds: import('typeorm').DataSource;
  beforeEach(async () => {
    ds = new typeorm.DataSource({ type: 'sqljs', synchronize: true, entities: [Track] });
    await ds.initialize();
  });
  afterEach(async () => {
    if (ds.isInitialized) await ds.destroy();
  });

  it('TO5: a DataSource has the shape the library looks for; its repository and manager do not', () => {
    expect({ dataSource: isDataSource(ds), manager: isDataSource(ds.manager) }).toEqual({
      dataSource: true,
      manager: false,
    });
    expect(isDataSource(ds.getRepository(Track))).toBe(false);
  });

  it('TO1, TO2: a subscriber pushed into `subscribers` hears every statement, with its time and the driver error', async () => {
    const { heard, stop } = listen(ds);
    const repo = ds.getRepository(Track);
    await repo.save(repo.create({ title: 'a' }));
    await repo.find();
    await expect(ds.query('SELECT * FROM "missing_table"')).rejects.toThrow();
    await expect(repo.insert({ title: 'a' })).rejects.toThrow();
    await ds.transaction(async (m) => {
      await m.getRepository(Track).find();
    });
    stop();
    await repo.find();
    const kinds = heard.map((h) => `${h.ok ? 'ok' : `failed ${String(h.code)}`} ${h.sql.split(' ')[0]}`);
    expect({ heard: kinds, why: broke('TO1', 'statements heard') }).toEqual({
      heard: [
        'ok BEGIN',
        'ok INSERT',
        'ok COMMIT',
        'ok SELECT',
        'failed SQLITE_ERROR SELECT',
        'failed SQLITE_CONSTRAINT_UNIQUE INSERT',
        'ok BEGIN',
        'ok SELECT',
        'ok COMMIT',
      ],
      why: broke('TO1', 'statements heard'),
    });
    expect({
      ok: heard.every((h) => Number.isFinite(h.seconds) && h.seconds >= 0),
      why: broke('TO2', 'times'),
    }).toEqual({
      ok: true,
      why: broke('TO2', 'times'),
    });
    expect(ds.subscribers).toEqual([]);
  });

  it('TO3: initialize() replaces `subscribers`; one found before it is hooked once it resolves', async () => {
    const fresh = new typeorm.DataSource({ type: 'sqljs', synchronize: true, entities: [Track] });
    const early = { afterQuery: jest.fn() };
    fresh.subscribers.push(early);
    const { heard, stop } = listen(fresh);
    await fresh.initialize();
    try {
      expect({ kept: fresh.subscribers.includes(early), why: broke('TO3', 'subscribers replaced') }).toEqual({
        kept: false,
        why: broke('TO3', 'subscribers replaced'),
      });
      await fresh.getRepository(Track).find();
      expect(heard.map((h) => h.sql.split(' ')[0])).toEqual(['SELECT']);
      stop();
      expect(Object.prototype.hasOwnProperty.call(fresh, 'initialize')).toBe(false);
    } finally {
      await fresh.destroy();
    }
  });

  it('TO4: sql.js has no pool to read; pg-pool counts connections with totalCount and idleCount', () => {
    expect(connectionsInUse(ds)).toBeUndefined();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { Pool } = require('pg') as typeof import('pg');
    const pool = new Pool();
    expect({ total: pool.totalCount, idle: pool.idleCount, why: broke('TO4', 'pg-pool getters') }).toEqual({
      total: 0,
      idle: 0,
      why: broke('TO4', 'pg-pool getters'),
    });
    const read = connectionsInUse({ driver: { master: pool, slaves: [pool] } } as unknown as DataSourceLike);
    expect(read?.()).toBe(0);
    void pool.end();
  });

  it('TO6, TO7: a failed statement is timed from its start; SQLite messages without a code map to result codes', async () => {
    const { heard, stop } = listen(ds);
    await expect(ds.query('SELECT * FROM "nowhere"')).rejects.toThrow();
    stop();
    expect(heard).toHaveLength(1);
    expect(heard[0].seconds).toBeGreaterThanOrEqual(0);
    const plain = new Error('UNIQUE constraint failed: track.title');
    expect(driverError(ds, plain)).toEqual({ code: 'SQLITE_CONSTRAINT' });
    expect(driverError(ds, new Error('something else'))).toBeInstanceOf(Error);
  });
});
