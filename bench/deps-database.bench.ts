/**
 * `npm run bench:deps:database`: the CPU the database recorder adds to one TypeORM query (issue 23:
 * target 1 µs), against the same application with `database: false`.
 *
 * Two applications are initialised in this process, each with `TypeOrmModule` on sql.js (an
 * in-process engine: no server, no network) and one table of 50 rows; one records, one has
 * `database: false`. Cases: a trivial statement on a held QueryRunner (`SELECT 1`), a repository
 * `findOneBy` (TypeORM's generated SELECT with its column list), and a statement that fails (no such
 * table). Rounds alternate bare and recorded (BENCH_ROUNDS, 21; each BENCH_QUERIES, 5,000 queries);
 * the median of the paired differences of process CPU time per query is the cost added, TypeORM's
 * event objects for our subscriber included. Then the hook alone: the subscriber's two calls and
 * the recording, with TypeORM's events built once and no engine (a stubbed driver call). Last, the
 * recorder's counts are checked against the queries made.
 */
import { Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import { EntitySchema, type DataSource, type QueryRunner } from 'typeorm';
import { VezaMetricsModule, VezaMetricsRegistry } from '../src';
import { cpuNsPer, pairedRounds, sumSamples, verdict } from './paired-cpu';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 5_000);
const TARGET_NS = 1000;

const Track = new EntitySchema<{
  id: number;
  title: string;
  artist: string;
  duration: number;
  genre: string;
}>({
  name: 'Track',
  tableName: 'track',
  columns: {
    id: { type: Number, primary: true, generated: true },
    title: { type: String },
    artist: { type: String },
    duration: { type: Number },
    genre: { type: String },
  },
});

interface Side {
  readonly ds: DataSource;
  readonly runner: QueryRunner;
  readonly registry: VezaMetricsRegistry;
  close(): Promise<void>;
}

async function side(database: boolean): Promise<Side> {
  @Module({
    imports: [
      VezaMetricsModule.forRoot({ defaultMetrics: false, database }),
      TypeOrmModule.forRoot({ type: 'sqljs', synchronize: true, entities: [Track] }),
    ],
  })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  await app.init();
  const ds = app.get<DataSource>(getDataSourceToken());
  const repo = ds.getRepository(Track);
  for (let i = 0; i < 50; i++) await repo.insert({ title: `t${i}`, artist: 'a', duration: i, genre: 'g' });
  const runner = ds.createQueryRunner();
  return {
    ds,
    runner,
    registry: app.get(VezaMetricsRegistry),
    close: async () => {
      await runner.release();
      await app.close();
    },
  };
}

type Case = (s: Side, i: number) => Promise<unknown>;

const cases: ReadonlyArray<readonly [string, Case]> = [
  ['SELECT 1 (held runner)', (s) => s.runner.query('SELECT 1')],
  ['repository findOneBy', (s, i) => s.ds.getRepository(Track).findOneBy({ id: (i % 50) + 1 })],
  ['failing select', (s) => s.runner.query('SELECT * FROM "missing_table"').catch(() => undefined)],
];

async function round(s: Side, run: Case): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < QUERIES; i++) await run(s, i);
  return cpuNsPer(start, QUERIES);
}

/** The hook alone: our subscriber's `beforeQuery` + `afterQuery` on prebuilt events (no engine). */
function hookAlone(s: Side, sql: string): number {
  const subscriber = s.ds.subscribers.find(
    (x) => typeof x.afterQuery === 'function' && typeof x.beforeQuery === 'function',
  );
  if (!subscriber?.beforeQuery || !subscriber.afterQuery) throw new Error('the recorder added no subscriber');
  const before = { queryRunner: s.runner, query: sql } as never;
  const after = { queryRunner: s.runner, query: sql, success: true, executionTime: 0.05 } as never;
  const n = 200_000;
  for (let i = 0; i < 20_000; i++) {
    void subscriber.beforeQuery(before);
    void subscriber.afterQuery(after);
  }
  const start = process.cpuUsage();
  for (let i = 0; i < n; i++) {
    void subscriber.beforeQuery(before);
    void subscriber.afterQuery(after);
  }
  return cpuNsPer(start, n);
}

async function main(): Promise<void> {
  const bare = await side(false);
  const recorded = await side(true);
  let met = true;
  try {
    for (const [label, run] of cases) {
      const cost = await pairedRounds(
        ROUNDS,
        () => round(bare, run),
        () => round(recorded, run),
      );
      const ok = cost.added < TARGET_NS;
      met &&= ok;
      console.log(
        `${label.padEnd(24)} bare ${cost.without.toFixed(0).padStart(7)} ns  recorded ${cost.with.toFixed(0).padStart(7)} ns  ` +
          `added ${cost.added.toFixed(0).padStart(5)} ns  target < ${TARGET_NS} ns: ${verdict(ok)}`,
      );
    }
    const generated = recorded.ds
      .getRepository(Track)
      .createQueryBuilder('Track')
      .where('Track.id = :id', { id: 1 })
      .getQuery();
    for (const [label, sql] of [
      ['hook alone, SELECT 1', 'SELECT 1'],
      ['hook alone, generated', generated],
    ] as const) {
      const ns = hookAlone(recorded, sql);
      const ok = ns < TARGET_NS;
      met &&= ok;
      console.log(
        `${label.padEnd(24)} ${ns.toFixed(0).padStart(5)} ns of CPU per query  target < ${TARGET_NS} ns: ${verdict(ok)}`,
      );
    }
    const text = await recorded.registry.render();
    const queries = (ROUNDS + 1) * QUERIES;
    const failed = sumSamples(text, 'veza_database_query_errors_total{');
    const exact = failed === queries;
    console.log(
      `failing selects counted by the recorder: ${failed} of ${queries} (${exact ? 'exact' : 'NOT exact'})`,
    );
    console.log(`CPU added per query: ${verdict(met)}`);
    if (!exact) process.exitCode = 1;
  } finally {
    await bare.close();
    await recorded.close();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
