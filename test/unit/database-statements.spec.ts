import { DatabaseMetricsRecorder, NO_TABLE, OTHER_TABLE } from '../../src/database/database-metrics.recorder';
import { classifySql, MAX_TABLE_NAME, SQL_PREFIX } from '../../src/database/sql-statement';
import { collector, heapAfterGc } from '../utils/memory';
import { metricsContext, startupError } from '../utils/module';

const of = (sql: unknown): [string, string | undefined] => {
  const { operation, table } = classifySql(sql);
  return [operation, table];
};

describe('classifySql: operation and main table of a statement', () => {
  it.each([
    ['SELECT * FROM users WHERE id = $1', 'select', 'users'],
    ['select id from "user" "User" where "User"."id" = $1', 'select', 'user'],
    [
      'SELECT "User"."id" AS "User_id", "User"."from" AS "User_from" FROM "public"."user" "User" LIMIT 1',
      'select',
      'user',
    ],
    ['SELECT `t`.* FROM `shop`.`orders` `t`', 'select', 'orders'],
    ['SELECT [x].[y] FROM [dbo].[Order Lines] AS [x]', 'select', 'Order Lines'],
    ['SELECT "a""b" FROM "we""ird"', 'select', 'we"ird'],
    ['SELECT (SELECT COUNT(*) FROM b WHERE b.a = a.id) AS n FROM a', 'select', 'a'],
    [
      'SELECT DISTINCT "distinctAlias"."User_id" AS "ids_User_id" FROM (SELECT "User"."id" AS "User_id" FROM "user" "User") "distinctAlias"',
      'select',
      'user',
    ],
    ['SELECT 1', 'select', undefined],
    ['SELECT version()', 'select', undefined],
    ['SELECT * FROM current_schema()', 'select', undefined],
    ['SELECT * FROM generate_series(1, 3)', 'select', undefined],
    ['SELECT * FROM ONLY parts', 'select', 'parts'],
    ['SELECT * FROM "sqlite_master" WHERE "type" = \'table\'', 'select', 'sqlite_master'],
    ['  \n\t-- a comment FROM nowhere\n /* FROM neither */ SELECT x FROM t', 'select', 't'],
    ['(SELECT a FROM t1) UNION (SELECT a FROM t2)', 'select', 't1'],
    ['INSERT INTO "user"("name", "email") VALUES ($1, $2) RETURNING "id"', 'insert', 'user'],
    ['insert or replace into kv (k, v) values (?, ?)', 'insert', 'kv'],
    ['INSERT IGNORE INTO `logs` SET a = 1', 'insert', 'logs'],
    ['REPLACE INTO cache VALUES (1)', 'insert', 'cache'],
    ['UPDATE "user" SET "name" = $1 WHERE "id" = $2', 'update', 'user'],
    ['UPDATE ONLY public.accounts SET x = 1', 'update', 'accounts'],
    ['UPDATE OR IGNORE t SET x = 1', 'update', 't'],
    ['UPDATE LOW_PRIORITY IGNORE items SET x = 1', 'update', 'items'],
    ['DELETE FROM "user" WHERE "id" = $1', 'delete', 'user'],
    ['delete from only s.t where x', 'delete', 't'],
    ['BEGIN', 'transaction', undefined],
    ['BEGIN TRANSACTION', 'transaction', undefined],
    ['START TRANSACTION', 'transaction', undefined],
    ['COMMIT', 'transaction', undefined],
    ['ROLLBACK', 'transaction', undefined],
    ['SAVEPOINT typeorm_1', 'transaction', undefined],
    ['RELEASE SAVEPOINT typeorm_1', 'transaction', undefined],
    ['ROLLBACK TO SAVEPOINT typeorm_1', 'transaction', undefined],
    ['WITH x AS (SELECT * FROM a) SELECT * FROM x', 'select', 'x'],
    ['WITH RECURSIVE r(n) AS (SELECT 1 UNION SELECT n + 1 FROM r) SELECT n FROM r', 'select', 'r'],
    ['WITH moved AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM moved', 'insert', 'b'],
    ['WITH "select" AS (SELECT 1) UPDATE t SET x = 1', 'update', 't'],
    ['CREATE TABLE "user" ("id" integer PRIMARY KEY)', 'other', undefined],
    ['ALTER TABLE t ADD COLUMN c int', 'other', undefined],
    ['PRAGMA foreign_keys = OFF', 'other', undefined],
    ['SET TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'other', undefined],
    ['SHOW server_version', 'other', undefined],
    ['EXPLAIN SELECT * FROM t', 'other', undefined],
    ['', 'other', undefined],
    ['   ', 'other', undefined],
    ['-- only a comment', 'other', undefined],
    ['/* never closed SELECT * FROM t', 'other', undefined],
    ['SELECT * FROM', 'select', undefined],
    ['SELECT * FROM "never closed', 'select', undefined],
    ['INSERT INTO', 'insert', undefined],
    ['SELECTX * FROM t', 'other', undefined],
    ['SELECT * FROM t)', 'select', 't'],
    ['SELECT a) FROM t', 'select', undefined],
  ])('%j → %s %s', (sql, operation, table) => {
    expect(of(sql)).toEqual([operation, table]);
  });

  it('is "other" with no table for anything that is not a string', () => {
    for (const value of [undefined, null, 42, {}, ['SELECT * FROM t'], Symbol('x')]) {
      expect(of(value)).toEqual(['other', undefined]);
    }
  });

  it('reads only the first SQL_PREFIX units: a table named past them is not found', () => {
    const columns = 'x, '.repeat(SQL_PREFIX);
    expect(of(`SELECT ${columns}y FROM far`)).toEqual(['select', undefined]);
    const near = `SELECT a FROM near WHERE b IN (${'1, '.repeat(1_000_000)}2)`;
    expect(of(near)).toEqual(['select', 'near']);
  });

  it('cuts a long table name to MAX_TABLE_NAME units and never returns a literal or a comment', () => {
    const long = 'x'.repeat(10_000);
    expect(of(`SELECT * FROM ${long}`)[1]).toBe('x'.repeat(MAX_TABLE_NAME));
    expect(of(`SELECT * FROM "${'y'.repeat(1_000)}"`)[1]).toBe('y'.repeat(MAX_TABLE_NAME));
    const [, table] = of("SELECT * FROM t WHERE password = 'hunter2' -- secret");
    expect(table).toBe('t');
  });

  it('survives hostile prefixes: deep parentheses, many keywords, unclosed quotes, NUL and lone surrogates', () => {
    expect(of(`${'('.repeat(SQL_PREFIX * 2)}SELECT 1`)).toEqual(['other', undefined]);
    expect(of(`SELECT ${'('.repeat(5_000)} FROM t`)).toEqual(['select', undefined]);
    expect(of(`SELECT * FROM ${'(SELECT * FROM '.repeat(100)}t`)).toEqual(['select', undefined]);
    expect(of(`SELECT 1 ${'FROM '.repeat(10_000)}`)[0]).toBe('select');
    expect(of(`SELECT (${'FROM '.repeat(2_000)}) FROM t`)).toEqual(['select', undefined]);
    expect(of(`SELECT ("from", ${'x.from, '.repeat(300)}1) FROM t`)).toEqual(['select', 't']);
    expect(of(`SELECT ${'"from", '.repeat(300)}1 from t`)).toEqual(['select', 't']);
    expect(of('SELECT * FROM "a\u0000b"')).toEqual(['select', 'a\u0000b']);
    expect(of('SELECT * FROM \ud800x')).toEqual(['select', '\ud800x']);
    expect(of(`SELECT * FROM [${'a]]'.repeat(2_000)}`)).toEqual(['select', undefined]);
    expect(of(`SELECT * FROM [${']]'.repeat(100)}]`)).toEqual(['select', ']'.repeat(100)]);
  });

  it('reads quoted names part by part, at the cut and at the end of the prefix, whatever their quotes', () => {
    expect(of('SELECT * FROM "a""b"."t"')).toEqual(['select', 't']);
    expect(of('SELECT * FROM "s"."a""b"')).toEqual(['select', 'a"b']);
    expect(of('SELECT * FROM [a]]b].[c] AS x')).toEqual(['select', 'c']);
    expect(of('DELETE FROM `s``q`.`t` WHERE 1')).toEqual(['delete', 't']);
    expect(of(`SELECT * FROM "${'x'.repeat(MAX_TABLE_NAME - 1)}""y"`)).toEqual([
      'select',
      `${'x'.repeat(MAX_TABLE_NAME - 1)}"`,
    ]);
    expect(of(`SELECT * FROM "${'x'.repeat(300)}""y"`)).toEqual(['select', 'x'.repeat(MAX_TABLE_NAME)]);
    expect(of('SELECT * FROM ""')).toEqual(['select', undefined]);
    expect(of('SELECT * FROM "s".""')).toEqual(['select', undefined]);
    // A name whose closing quote is the prefix's last unit, or just past it; a doubled quote cut in two.
    const head = 'SELECT * FROM "';
    const fill = 'q'.repeat(SQL_PREFIX - head.length - 1);
    expect(of(`${head}${fill}" WHERE 1`)).toEqual(['select', 'q'.repeat(MAX_TABLE_NAME)]);
    expect(of(`${head}${fill}q" WHERE 1`)).toEqual(['select', undefined]);
    expect(of(`${head}${fill}"" FROM x"`)).toEqual(['select', 'q'.repeat(MAX_TABLE_NAME)]);
    // A comment or a subquery cut by the prefix's end.
    const pad = ' '.repeat(SQL_PREFIX - 'SELECT * FROM /*'.length);
    expect(of(`SELECT * FROM ${pad}/* t */ t`)).toEqual(['select', undefined]);
    expect(
      of(`SELECT * FROM (${' '.repeat(SQL_PREFIX - 'SELECT * FROM (SEL'.length)}SELECT a FROM t)`),
    ).toEqual(['select', undefined]);
    expect(of(`SELECT * FROM ((SELECT a FROM "t${'('.repeat(SQL_PREFIX)}`)).toEqual(['select', undefined]);
  });

  it('gives a WITH statement the main verb in any case', () => {
    expect(of('WITH x AS (SELECT 1) Delete FROM t')).toEqual(['delete', 't']);
    expect(of('with x as (select 1) uPdAtE t set a = 1')).toEqual(['update', 't']);
    expect(of('WITH c AS (DELETE FROM a RETURNING *) INSERT INTO b SELECT * FROM c')).toEqual([
      'insert',
      'b',
    ]);
    expect(of('With c As (Select 1) sElEcT * fRoM "q"')).toEqual(['select', 'q']);
  });
});

describe('DatabaseMetricsRecorder', () => {
  it('records durations by operation and table, errors by operation and error_type, and bounds tables', async () => {
    const ctx = await metricsContext({ defaultMetrics: false, database: { maxTables: 3 } });
    try {
      const recorder = ctx.moduleRef.get(DatabaseMetricsRecorder);
      recorder.recordStatement('INSERT INTO "user"("name") VALUES ($1)', 0.002);
      recorder.recordStatement('SELECT * FROM "user"', 0.002);
      recorder.recordStatement('BEGIN', 0.0001);
      recorder.record('findMany', 'Track', 0.003); // not an operation: other
      recorder.recordStatementError('INSERT INTO "user"("name") VALUES ($1)', 0.001, {
        code: '23505',
        message: 'duplicate key value violates unique constraint "user_name_key" Key (name)=(secret)',
      });
      recorder.recordError('select', 'user', 0.001, new TypeError('boom'));
      for (let i = 0; i < 20; i++) recorder.recordStatement(`SELECT * FROM hostile_${i}`, 0.001);
      const text = await ctx.render();
      const lines = text.split('\n').filter((l) => l.startsWith('veza_database_query_'));
      expect(lines).toEqual(
        expect.arrayContaining([
          'veza_database_query_duration_seconds_count{operation="insert",table="user"} 2',
          'veza_database_query_duration_seconds_count{operation="select",table="user"} 2',
          `veza_database_query_duration_seconds_count{operation="transaction",table="${NO_TABLE}"} 1`,
          'veza_database_query_duration_seconds_count{operation="other",table="Track"} 1',
          'veza_database_query_duration_seconds_count{operation="select",table="hostile_0"} 1',
          `veza_database_query_duration_seconds_count{operation="select",table="${OTHER_TABLE}"} 19`,
          'veza_database_query_errors_total{operation="insert",error_type="23505"} 1',
          'veza_database_query_errors_total{operation="select",error_type="TypeError"} 1',
        ]),
      );
      expect(lines.filter((l) => l.includes('_count{'))).toHaveLength(6);
      expect(text).not.toContain('secret');
    } finally {
      await ctx.close();
    }
  });

  it('finds the table of a statement without a copy of its name: equal hashes, quoted or not, doubled quotes, the cap', async () => {
    const ctx = await metricsContext({ defaultMetrics: false, database: { maxTables: 4 } });
    try {
      const recorder = ctx.moduleRef.get(DatabaseMetricsRecorder);
      // "Aa" and "BB" have the same hash (31 * a + b): each keeps its own series.
      for (let i = 0; i < 2; i++) {
        recorder.recordStatement('SELECT * FROM Aa', 0.001);
        recorder.recordStatement('SELECT * FROM "BB" "b"', 0.001);
        recorder.recordStatement('SELECT * FROM "we""ird"', 0.001);
      }
      recorder.recordStatement('INSERT INTO "Aa"("x") VALUES (1)', 0.001);
      recorder.recordStatement('SELECT * FROM "s"."Aa" WHERE 1', 0.001);
      recorder.record('select', 'BB', 0.001);
      recorder.recordStatementError('SELECT * FROM BB', 0.001, { code: 'E1' });
      for (let i = 0; i < 10; i++) recorder.recordStatement(`SELECT * FROM hostile_${i}`, 0.001);
      recorder.recordStatement('SELECT * FROM Aa', 0.001);
      recorder.recordStatement('SELECT * FROM hostile_0', 0.001);
      recorder.recordStatement('SELECT * FROM [we"ird]', 0.001);
      const lines = (await ctx.render()).split('\n').filter((l) => l.includes('_count{'));
      expect(lines.sort()).toEqual(
        [
          'veza_database_query_duration_seconds_count{operation="insert",table="Aa"} 1',
          'veza_database_query_duration_seconds_count{operation="select",table="Aa"} 4',
          'veza_database_query_duration_seconds_count{operation="select",table="BB"} 4',
          'veza_database_query_duration_seconds_count{operation="select",table="we\\"ird"} 3',
          'veza_database_query_duration_seconds_count{operation="select",table="hostile_0"} 2',
          `veza_database_query_duration_seconds_count{operation="select",table="${OTHER_TABLE}"} 9`,
        ].sort(),
      );
    } finally {
      await ctx.close();
    }
  });

  it('keeps no statement once recorded: a 32 MB statement is freed', async () => {
    const ctx = await metricsContext({ defaultMetrics: false });
    try {
      const recorder = ctx.moduleRef.get(DatabaseMetricsRecorder);
      const gc = collector();
      recorder.recordStatement('SELECT * FROM "big"', 0.001);
      const before = heapAfterGc(gc);
      ((): void => {
        const huge = `SELECT * FROM "big" WHERE id IN (${'1,'.repeat(16_000_000)}1)`;
        recorder.recordStatement(huge, 0.001);
      })();
      expect(heapAfterGc(gc) - before).toBeLessThan(8 * 1024 * 1024);
      expect(await ctx.render()).toContain(
        'veza_database_query_duration_seconds_count{operation="select",table="big"} 2',
      );
    } finally {
      await ctx.close();
    }
  });

  it('types an error by its code, or by its class when its code is no label, however often a code repeats', async () => {
    const ctx = await metricsContext({ defaultMetrics: false });
    try {
      const recorder = ctx.moduleRef.get(DatabaseMetricsRecorder);
      const sql = 'SELECT * FROM "track"';
      for (let i = 0; i < 3; i++) recorder.recordStatementError(sql, 0.001, { code: 'SQLITE_ERROR' });
      // A code of 70 letters is no label (64 at most): the class is the type, here a class of the
      // same name; another class with that code must still get its own name.
      const long = 'A'.repeat(70);
      const Named = { [long]: class extends Error {} }[long];
      for (let i = 0; i < 2; i++)
        recorder.recordStatementError(sql, 0.001, Object.assign(new Named(), { code: long }));
      for (let i = 0; i < 2; i++)
        recorder.recordStatementError(sql, 0.001, Object.assign(new TypeError('x'), { code: long }));
      recorder.recordStatementError(sql, 0.001, { code: 42 });
      recorder.recordStatementError(sql, 0.001, Object.assign(new RangeError('x'), { code: 'SQLITE_ERROR' }));
      const lines = (await ctx.render())
        .split('\n')
        .filter((l) => l.startsWith('veza_database_query_errors_total{'));
      expect(lines.sort()).toEqual(
        [
          `veza_database_query_errors_total{operation="select",error_type="${long}"} 2`,
          'veza_database_query_errors_total{operation="select",error_type="42"} 1',
          'veza_database_query_errors_total{operation="select",error_type="SQLITE_ERROR"} 4',
          'veza_database_query_errors_total{operation="select",error_type="TypeError"} 2',
        ].sort(),
      );
    } finally {
      await ctx.close();
    }
  });

  it('never throws to its caller, whatever it is handed', async () => {
    const ctx = await metricsContext({ defaultMetrics: false });
    try {
      const recorder = ctx.moduleRef.get(DatabaseMetricsRecorder);
      const hostile = new Proxy(
        {},
        {
          get: () => {
            throw new Error('trap');
          },
        },
      );
      expect(() => recorder.recordStatement(hostile, Number.NaN)).not.toThrow();
      expect(() => recorder.recordStatementError(hostile, -1, hostile)).not.toThrow();
      expect(() =>
        recorder.record(hostile as never, hostile as never, Number.POSITIVE_INFINITY),
      ).not.toThrow();
      expect(() => recorder.recordError('x', 'y'.repeat(100_000), 0, hostile)).not.toThrow();
      const text = await ctx.render();
      expect(text).toContain('veza_database_query_errors_total{operation="other",error_type=');
    } finally {
      await ctx.close();
    }
  });

  it('sets veza_database_connections_active to the sum of the pools at each scrape', async () => {
    const ctx = await metricsContext({ defaultMetrics: false });
    try {
      const recorder = ctx.moduleRef.get(DatabaseMetricsRecorder);
      let a = 2;
      const removeA = recorder.connections(() => a);
      recorder.connections(() => 3);
      recorder.connections(() => {
        throw new Error('pool gone');
      });
      recorder.connections(() => undefined);
      expect(await ctx.render()).toContain('\nveza_database_connections_active 5\n');
      a = 4;
      expect(await ctx.render()).toContain('\nveza_database_connections_active 7\n');
      removeA();
      expect(await ctx.render()).toContain('\nveza_database_connections_active 3\n');
    } finally {
      await ctx.close();
    }
  });

  it('option database: false, true, an object; a wrong value fails the start-up naming it', async () => {
    expect(await startupError({ database: false })).toBe('');
    expect(await startupError({ database: { typeorm: false, maxTables: 5 } })).toBe('');
    expect(await startupError({ database: { maxTables: 0 } })).toMatch(/database\.maxTables/);
    expect(await startupError({ database: 'yes' })).toMatch(/database/);
    expect(await startupError({ database: { mongoose: true } })).toMatch(/mongoose/);
    const ctx = await metricsContext({ database: false });
    try {
      const recorder = ctx.moduleRef.get(DatabaseMetricsRecorder);
      expect([recorder.on('typeorm'), recorder.on('prisma')]).toEqual([false, false]);
    } finally {
      await ctx.close();
    }
  });
});
