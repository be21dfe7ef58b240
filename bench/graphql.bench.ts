/**
 * `npm run bench:graphql`: the cost of GraphQL recording (issue #15, item 5).
 *
 * A query resolving 100 fields (25 tracks × `id`, `title`, `artistId`, read off the parent, and
 * `artist`, a `@ResolveField()`; plus the root field) is served by two applications, each in a
 * process of its own: `bare` (`VezaMetricsModule.forRoot({ graphql: false })`, so that HTTP recording
 * is the same on both sides) and `instrumented` (the defaults: operations, root fields and
 * `@ResolveField()`s timed). autocannon, in this process, drives them in turn for BENCH_ROUNDS
 * rounds (A B, B A, ...; fresh servers each round, a warm-up before each run), on each driver:
 * Apollo on Express, Apollo on Fastify, Mercurius. The report prints requests/s of every run, the
 * median of the rounds' ratios instrumented / bare against the target (≥ 0.97), and the server's
 * CPU time per request (steadier than throughput on a shared machine). With `taskset` and 2 CPUs,
 * servers run on CPU 1 and the load generator on CPU 0.
 *
 * Last, in this process, the library's own work per request: nanoseconds of one timed resolver call
 * over the bare resolver, and of recording one operation, set against the bare server's CPU time per
 * request (a figure the machine's neighbours move far less than throughput).
 *
 * Environment: BENCH_ROUNDS (6), BENCH_DURATION seconds per run (3), BENCH_WARMUP seconds (3),
 * BENCH_CONNECTIONS (16), BENCH_DRIVERS (apollo-express,apollo-fastify,mercurius), BENCH_VARIANTS
 * (bare,instrumented; `all` times every field, for reference).
 */
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module, type DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import {
  Field,
  GraphQLModule,
  Int,
  ObjectType,
  Parent,
  Query,
  ResolveField,
  Resolver,
} from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { fork, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus } from 'node:os';
import { VEZA_CATALOG, VezaMetric, VezaMetricsModule } from '../src';
import {
  OPERATION_DURATION,
  OPERATIONS,
  RESOLVER_DURATION,
  RESOLVER_ERRORS,
  type Family,
} from '../src/graphql/graphql-families';
import { OperationSeries } from '../src/graphql/operation-series';
import { timeResolvers } from '../src/graphql/resolver-timing';
import { Counter, Histogram, Registry } from 'prom-client';
import { buildSchema, defaultFieldResolver, type GraphQLObjectType } from 'graphql';

type Driver = 'apollo-express' | 'apollo-fastify' | 'mercurius';
type Variant = 'bare' | 'instrumented' | 'all';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 6);
const DURATION = Number(process.env.BENCH_DURATION ?? 3);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 3);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 16);
const DRIVERS = (process.env.BENCH_DRIVERS ?? 'apollo-express,apollo-fastify,mercurius').split(
  ',',
) as Driver[];
const VARIANTS = (process.env.BENCH_VARIANTS ?? 'bare,instrumented').split(',') as Variant[];
const TARGET = 0.97;

const QUERY = '{ tracks { id title artistId artist } }';

@ObjectType()
class Track {
  @Field(() => Int) id!: number;
  @Field() title!: string;
  @Field(() => Int) artistId!: number;
}

const TRACKS: Track[] = Array.from({ length: 25 }, (_, i) => ({
  id: i,
  title: `Track ${i}`,
  artistId: i % 5,
}));

@Resolver(() => Track)
class TrackResolver {
  @Query(() => [Track])
  tracks(): Track[] {
    return TRACKS;
  }

  @ResolveField(() => String)
  artist(@Parent() track: Track): string {
    return `artist-${track.artistId}`;
  }
}

function appModule(driver: Driver, variant: Variant): DynamicModule {
  const graphql =
    driver === 'mercurius'
      ? GraphQLModule.forRoot<MercuriusDriverConfig>({
          driver: MercuriusDriver,
          graphiql: false,
          autoSchemaFile: true,
        })
      : GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          playground: false,
          graphiql: false,
          autoSchemaFile: true,
        });
  const metrics = VezaMetricsModule.forRoot({
    defaultMetrics: { enabled: false },
    graphql: variant === 'bare' ? false : variant === 'all' ? { resolvers: 'all' } : true,
  });
  @Module({ imports: [metrics, graphql], providers: [TrackResolver] })
  class BenchModule {}
  return { module: BenchModule };
}

/** The server side: one application, its port and CPU time reported to the parent. */
async function serve(driver: Driver, variant: Variant): Promise<void> {
  const module = appModule(driver, variant);
  const app =
    driver === 'apollo-express'
      ? await NestFactory.create(module, { logger: false })
      : await NestFactory.create(module, new FastifyAdapter(), { logger: false });
  await app.listen(0, '127.0.0.1');
  const address = app.getHttpServer().address() as { port: number };
  process.on('message', (m) => {
    if (m === 'cpu') process.send?.({ cpu: process.cpuUsage() });
    if (m === 'stop') void app.close().then(() => process.exit(0));
  });
  process.send?.({ port: address.port });
}

const pinned =
  process.platform === 'linux' &&
  spawnSync('taskset', ['-c', '0', 'true']).status === 0 &&
  cpus().length >= 2;

interface Server {
  port: number;
  cpu(): Promise<number>;
  stop(): Promise<void>;
}

function start(driver: Driver, variant: Variant): Promise<Server> {
  const child = fork(__filename, ['--serve', driver, variant], {
    execArgv: ['--no-warnings', '-r', require.resolve('./http-register.js')],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  if (pinned && child.pid) spawnSync('taskset', ['-cp', '1', String(child.pid)], { stdio: 'ignore' });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('message', (m: { port: number }) =>
      resolve({
        port: m.port,
        cpu: () =>
          new Promise((r) => {
            child.once('message', (c: { cpu: NodeJS.CpuUsage }) => r((c.cpu.user + c.cpu.system) / 1000));
            child.send('cpu');
          }),
        stop: () =>
          new Promise((r) => {
            child.once('exit', () => r());
            child.send('stop');
          }),
      }),
    );
  });
}

async function drive(
  port: number,
  seconds: number,
): Promise<{ rps: number; requests: number; errors: number }> {
  const autocannon = createRequire(__filename)('autocannon') as (
    opts: object,
  ) => Promise<{ requests: { average: number; total: number }; non2xx: number; errors: number }>;
  const result = await autocannon({
    url: `http://127.0.0.1:${port}/graphql`,
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: QUERY }),
    connections: CONNECTIONS,
    duration: seconds,
  });
  return {
    rps: result.requests.average,
    requests: result.requests.total,
    errors: result.errors + result.non2xx,
  };
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function measure(
  driver: Driver,
  variant: Variant,
): Promise<{ rps: number; cpuUsPerRequest: number; errors: number }> {
  const server = await start(driver, variant);
  try {
    await drive(server.port, WARMUP);
    const before = await server.cpu();
    const run = await drive(server.port, DURATION);
    const after = await server.cpu();
    return {
      rps: run.rps,
      cpuUsPerRequest: ((after - before) * 1000) / Math.max(1, run.requests),
      errors: run.errors,
    };
  } finally {
    await server.stop();
  }
}

/** The median of `rounds` runs of `run` (7: the rounds of both figures below). */
const medianOf = (run: () => number, rounds = 7): number => median(Array.from({ length: rounds }, run));

/** Nanoseconds of the library's own work, in this process: a timed resolver call over the bare one, one operation recorded. */
function ownCost(): { resolverNs: number; operationNs: number } {
  // The library's own families (names, help, labels) with the HTTP buckets, as graphqlFamily() makes them.
  const registry = new Registry();
  const buckets = [...(VEZA_CATALOG.find((d) => d.name === VezaMetric.HttpRequestDuration)?.buckets ?? [])];
  const make = <T>(Class: new (config: never) => T, family: Family): T =>
    new Class({
      name: family.name,
      help: family.help,
      labelNames: [...family.labelNames],
      registers: [registry],
      ...(family.kind === 'histogram' ? { buckets } : {}),
    } as never);
  const schema = buildSchema('type Query { a: String b: String }');
  const fields = (schema.getQueryType() as GraphQLObjectType).getFields();
  fields.a.resolve = (track: { artistId: number }) => `artist-${track.artistId}`;
  const bare = fields.a.resolve;
  timeResolvers(
    schema,
    'root-and-resolved',
    make(Histogram, RESOLVER_DURATION),
    make(Counter, RESOLVER_ERRORS),
    defaultFieldResolver as never,
  );
  const timed = fields.a.resolve;
  const N = 2_000_000;
  const parent = { artistId: 3 };
  /** Nanoseconds per call of `call`, over N calls. */
  const perCall = (call: () => void): number => {
    const t0 = performance.now();
    for (let i = 0; i < N; i++) call();
    return ((performance.now() - t0) * 1e6) / N;
  };
  let sink = 0;
  const resolve = (fn: typeof bare) => () => {
    sink += (fn(parent, {}, {}, {} as never) as string).length;
  };
  const resolverNs = medianOf(() => perCall(resolve(timed)) - perCall(resolve(bare)));
  if (sink === 42) console.log(sink);
  const series = new OperationSeries(make(Counter, OPERATIONS), make(Histogram, OPERATION_DURATION), 100);
  const op = { type: 'query', name: 'GetTracks' };
  const operationNs = medianOf(() => perCall(() => series.record(op, 'success', 0.002)));
  return { resolverNs: Math.max(0, resolverNs), operationNs };
}

async function main(): Promise<void> {
  if (pinned) spawnSync('taskset', ['-cp', '0', String(process.pid)], { stdio: 'ignore' });
  console.log(
    `bench:graphql: ${ROUNDS} rounds × ${DURATION}s, ${CONNECTIONS} connections, query of 100 fields; ${pinned ? 'servers on CPU 1, load on CPU 0' : 'unpinned'}`,
  );
  let allMet = true;
  const bareCpus: number[] = [];
  for (const driver of DRIVERS) {
    const runs: Record<string, Array<{ rps: number; cpuUsPerRequest: number }>> = {};
    const ratios: number[] = [];
    const cpuRatios: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const order = round % 2 === 0 ? VARIANTS : [...VARIANTS].reverse();
      const got: Record<string, { rps: number; cpuUsPerRequest: number; errors: number }> = {};
      for (const variant of order) {
        got[variant] = await measure(driver, variant);
        if (got[variant].errors > 0)
          throw new Error(`${driver} ${variant}: ${got[variant].errors} failed requests`);
        (runs[variant] ??= []).push(got[variant]);
        if (variant === 'bare') bareCpus.push(got[variant].cpuUsPerRequest);
      }
      if (got.bare && got.instrumented) {
        ratios.push(got.instrumented.rps / got.bare.rps);
        cpuRatios.push(got.bare.cpuUsPerRequest / got.instrumented.cpuUsPerRequest);
      }
      console.log(
        `  ${driver} round ${round + 1}: ` +
          order
            .map(
              (v) => `${v} ${got[v].rps.toFixed(0)} req/s (${got[v].cpuUsPerRequest.toFixed(1)} µs CPU/req)`,
            )
            .join(', '),
      );
    }
    for (const variant of VARIANTS) {
      const r = runs[variant];
      console.log(
        `  ${driver} ${variant}: median ${median(r.map((x) => x.rps)).toFixed(0)} req/s, ${median(r.map((x) => x.cpuUsPerRequest)).toFixed(1)} µs CPU/req`,
      );
    }
    if (ratios.length > 0) {
      const ratio = median(ratios);
      const met = ratio >= TARGET;
      allMet &&= met;
      console.log(
        `${driver}: throughput instrumented/bare ${ratio.toFixed(3)} (target >= ${TARGET}): ${met ? 'met' : 'not met'}; ` +
          `CPU per request bare/instrumented ${median(cpuRatios).toFixed(3)}`,
      );
    }
  }
  const bareCpu = median(bareCpus);
  const own = ownCost();
  const perQuery = 26 * own.resolverNs + own.operationNs;
  console.log(
    `own work: ${own.resolverNs.toFixed(0)} ns per timed resolver call (over the bare call), ${own.operationNs.toFixed(0)} ns per operation recorded; ` +
      `the benchmark query (26 timed resolvers, 1 operation): ${(perQuery / 1000).toFixed(1)} µs, ${((100 * perQuery) / 1000 / bareCpu).toFixed(2)}% of the bare server's ${bareCpu.toFixed(0)} µs CPU per request ` +
      `(implied ratio ${(bareCpu / (bareCpu + perQuery / 1000)).toFixed(3)}, target >= ${TARGET}: ${bareCpu / (bareCpu + perQuery / 1000) >= TARGET ? 'met' : 'not met'})`,
  );
  console.log(allMet ? 'bench:graphql: all targets met' : 'bench:graphql: some targets not met');
}

const serveAt = process.argv.indexOf('--serve');
if (serveAt >= 0) void serve(process.argv[serveAt + 1] as Driver, process.argv[serveAt + 2] as Variant);
else
  void main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
