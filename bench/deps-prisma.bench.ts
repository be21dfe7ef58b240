/**
 * `npm run bench:deps:prisma`: the CPU the module adds to one query of a Prisma client (issue 23:
 * target ≤ 1 µs), against the same application with `database: false`.
 *
 * Needs PostgreSQL (Debian's package; test/utils/brokers.ts starts a throw-away cluster) and
 * generates the client once (test/utils/prisma.ts), so it is not in `npm run bench`.
 *
 * Two Nest applications with one `PrismaService extends PrismaClient` each (Prisma 7 over
 * @prisma/adapter-pg) are initialised in this process, one with `forRoot()` and one with
 * `database: false`.
 *
 * 1. What the module adds: each query of a client runs through the client's tracing helper
 *    (`runInChildSpan({ name: 'operation', attributes: { method, model } }, callback)`, PR2 of
 *    src/compat/prisma.ts), which the module wraps (PR1). Each side runs that call as Prisma does,
 *    with a callback that settles at once (with a value, or with a P2002 error), and awaits it: the
 *    bare side goes through Prisma's own helper, the recorded side through the module's hook, its
 *    timing and its recording. The database is left out (it costs the same on both sides and its
 *    noise, tens of µs, would hide a 1 µs difference). Rounds alternate bare and recorded
 *    (BENCH_ROUNDS, 21; each BENCH_QUERIES, 20,000 calls); the median of the paired differences of
 *    process CPU time per call is the cost added, printed with met / not met.
 * 2. For scale, whole `findUnique` queries on PostgreSQL through both clients (BENCH_PG_QUERIES,
 *    2,000 per round, 5 rounds each side): CPU per query, no target (the difference is within the
 *    noise of a query that costs tens of µs).
 *
 * Last, the recorder's counts are checked against the calls made.
 */
import { Injectable, Module, type OnModuleDestroy } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { PrismaPg } from '@prisma/adapter-pg';
import { VezaMetricsModule, VezaMetricsRegistry } from '../src';
import { startPostgres } from '../test/utils/brokers';
import { createPrismaTables, generatedPrisma, prismaVersions, type PrismaLike } from '../test/utils/prisma';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const QUERIES = Number(process.env.BENCH_QUERIES ?? 20_000);
const PG_QUERIES = Number(process.env.BENCH_PG_QUERIES ?? 2_000);
const TARGET_NS = 1000;

interface Helper {
  runInChildSpan(options: unknown, callback: () => unknown): unknown;
}

interface Side {
  helper: Helper;
  client: PrismaLike;
  registry: VezaMetricsRegistry;
  close(): Promise<void>;
}

async function side(url: string, database: boolean): Promise<Side> {
  const Base: new (options: { adapter: unknown }) => PrismaLike = generatedPrisma().PrismaClient;
  @Injectable()
  class PrismaService extends Base implements OnModuleDestroy {
    constructor() {
      super({ adapter: new PrismaPg({ connectionString: url }) });
    }
    async onModuleDestroy(): Promise<void> {
      await this.$disconnect();
    }
  }
  @Module({
    imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, ...(database ? {} : { database: false }) })],
    providers: [PrismaService],
  })
  class BenchModule {}
  const app = await NestFactory.createApplicationContext(BenchModule, { logger: false });
  await app.init();
  const client = app.get<PrismaService, PrismaLike & { _tracingHelper: Helper }>(PrismaService);
  return {
    helper: client._tracingHelper,
    client,
    registry: app.get(VezaMetricsRegistry),
    close: () => app.close(),
  };
}

const FOUND = { id: 1, title: 'alpha', plays: 0 };
const P2002 = Object.assign(new Error('Unique constraint failed on the fields: (`title`)'), {
  code: 'P2002',
});
const SPANS = {
  findUnique: {
    name: 'operation',
    attributes: { method: 'findUnique', model: 'Track', name: 'Track.findUnique' },
  },
  create: { name: 'operation', attributes: { method: 'create', model: 'Track', name: 'Track.create' } },
};

/** One round of `QUERIES` calls through `helper`; process CPU ns per call. */
async function round(helper: Helper, failing: boolean): Promise<number> {
  const start = process.cpuUsage();
  if (failing) {
    for (let i = 0; i < QUERIES; i++) {
      try {
        await (helper.runInChildSpan(SPANS.create, () => Promise.reject(P2002)) as Promise<unknown>);
      } catch {
        // the app's catch
      }
    }
  } else {
    for (let i = 0; i < QUERIES; i++)
      await (helper.runInChildSpan(SPANS.findUnique, () => Promise.resolve(FOUND)) as Promise<unknown>);
  }
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / QUERIES;
}

/** One round of `PG_QUERIES` whole queries on PostgreSQL; process CPU ns per query. */
async function pgRound(client: PrismaLike): Promise<number> {
  const start = process.cpuUsage();
  for (let i = 0; i < PG_QUERIES; i++) await client.track.findUnique({ where: { title: 'alpha' } });
  const used = process.cpuUsage(start);
  return ((used.user + used.system) * 1000) / PG_QUERIES;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  process.env.CI ??= 'true'; // a missing PostgreSQL fails the bench rather than skipping it
  const pg = await startPostgres();
  if (!pg) throw new Error('PostgreSQL is required');
  await createPrismaTables(pg.url);
  const bare = await side(pg.url, false);
  const recorded = await side(pg.url, true);
  console.log(`${prismaVersions()}, Node ${process.version}`);
  try {
    await bare.client.track.create({ data: { title: 'alpha' } });
    let met = true;
    for (const [label, failing] of [
      ['query that returns', false],
      ['query that fails (P2002)', true],
    ] as const) {
      const b: number[] = [];
      const r: number[] = [];
      await round(bare.helper, failing);
      await round(recorded.helper, failing);
      for (let i = 0; i < ROUNDS; i++) {
        b.push(await round(bare.helper, failing));
        r.push(await round(recorded.helper, failing));
      }
      // Rounds alternate, so each recorded round is compared with the bare round just before it.
      const added = median(r.map((x, i) => x - b[i]));
      const ok = added <= TARGET_NS;
      met &&= ok;
      console.log(
        `${label.padEnd(26)} bare ${median(b).toFixed(0).padStart(6)} ns  recorded ${median(r).toFixed(0).padStart(6)} ns  ` +
          `added ${added.toFixed(0).padStart(5)} ns  target ≤ ${TARGET_NS} ns: ${ok ? 'met' : 'not met'}`,
      );
    }
    const pb: number[] = [];
    const pr: number[] = [];
    await pgRound(bare.client);
    await pgRound(recorded.client);
    for (let i = 0; i < 5; i++) {
      pb.push(await pgRound(bare.client));
      pr.push(await pgRound(recorded.client));
    }
    console.log(
      `${'findUnique on PostgreSQL'.padEnd(26)} bare ${median(pb).toFixed(0).padStart(6)} ns  recorded ${median(pr).toFixed(0).padStart(6)} ns  ` +
        `(whole query, for scale: no target)`,
    );
    const text = await recorded.registry.render();
    const sum = (prefix: string): number =>
      text
        .split('\n')
        .filter((l) => l.startsWith(prefix))
        .reduce((total, l) => total + Number(l.split(' ').pop()), 0);
    const calls = 2 * (ROUNDS + 1) * QUERIES + 6 * PG_QUERIES;
    const timed = sum('veza_database_query_duration_seconds_count{');
    const errors = sum('veza_database_query_errors_total{');
    const exact = timed === calls && errors === (ROUNDS + 1) * QUERIES;
    console.log(
      `queries timed by the recorder: ${timed} of ${calls}, errors ${errors} (${exact ? 'exact' : 'NOT exact'})`,
    );
    console.log(`CPU added per Prisma query: ${met ? 'met' : 'not met'}`);
    if (!exact) process.exitCode = 1;
  } finally {
    await bare.close();
    await recorded.close();
    await pg.stop();
  }
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
