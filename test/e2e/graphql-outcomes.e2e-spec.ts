/**
 * Issue 21 (GraphQL), items 3, 7 and 8, on real Apollo servers (Express and Fastify) and a real
 * Mercurius server (Fastify), over HTTP:
 * - 7: every kind of request (test/e2e/graphql-request-kinds.ts, the table of docs/graphql.md) is
 *   recorded alike by every driver, a client's mistake as `request_error`, never `resolver_error`;
 *   each reply is the one the same app gives without the library.
 * - 3: a refused document Mercurius answers from its error cache is not parsed again by the recorder.
 * - 8: refused operations earn no `operation_name` slot: 20 refused names under a cap of 5 leave
 *   every slot to the operations that ran.
 */
import { Module, NotFoundException, type DynamicModule, type INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { Args, Field, GraphQLModule, Int, ObjectType, Query, Resolver, Subscription } from '@nestjs/graphql';
import { Parser } from 'graphql/language/parser';
import { VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { scrape, startApp } from '../utils/app';
import { refusedDocument } from '../utils/graphql-documents';
import { samples } from './http-client.fixture';
import { DRIVERS, REQUEST_KINDS, type Driver, type GraphqlRequest } from './graphql-request-kinds';

jest.setTimeout(120_000);

@ObjectType()
class Track {
  @Field(() => Int) id!: number;
  @Field() title!: string;
}

const TRACKS: Track[] = [
  { id: 1, title: 'One' },
  { id: 2, title: 'Two' },
];

@Resolver(() => Track)
class CatalogResolver {
  @Query(() => Track, { nullable: true })
  track(@Args('id', { type: () => Int }) id: number): Track | undefined {
    return TRACKS.find((t) => t.id === id);
  }

  @Query(() => [Track])
  tracks(): Track[] {
    return TRACKS;
  }

  @Query(() => String, { nullable: true })
  failing(): Promise<string> {
    return Promise.reject(new NotFoundException('no such track'));
  }

  @Subscription(() => Int)
  ticks(): AsyncIterableIterator<{ ticks: number }> {
    return (async function* () {
      yield await Promise.resolve({ ticks: 1 });
    })();
  }
}

/** True for a document whose first operation is named `Broken`: its execution step throws. */
function isBroken(document: unknown): boolean {
  const first = (document as { definitions?: Array<{ name?: { value?: string } }> }).definitions?.[0];
  return first?.name?.value === 'Broken';
}

function graphqlModule(driver: Driver): DynamicModule {
  if (driver === 'mercurius')
    return GraphQLModule.forRoot<MercuriusDriverConfig>({
      driver: MercuriusDriver,
      graphiql: false,
      autoSchemaFile: true,
      subscription: true,
      hooks: {
        preExecution: (_schema: unknown, document: unknown) => {
          if (isBroken(document)) throw new Error('execution unavailable');
        },
      },
    });
  return GraphQLModule.forRoot<ApolloDriverConfig>({
    driver: ApolloDriver,
    playground: false,
    graphiql: false,
    autoSchemaFile: true,
    rootValue: (document: unknown) => {
      if (isBroken(document)) throw new Error('execution unavailable');
      return undefined;
    },
  });
}

async function start(
  driver: Driver,
  metrics: VezaMetricsModuleOptions | undefined,
): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [...(metrics ? [VezaMetricsModule.forRoot(metrics)] : []), graphqlModule(driver)],
    providers: [CatalogResolver],
  })
  class GraphqlApp {}
  return startApp(driver === 'apollo-express' ? 'express' : 'fastify', { imports: [GraphqlApp] });
}

async function send(url: string, request: GraphqlRequest): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true' },
    body: JSON.stringify(request),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // kept as text
  }
  return { status: res.status, body };
}

const LABELS = ['operation_type', 'operation_name', 'outcome'];
const operations = async (url: string): Promise<Record<string, number>> =>
  samples(await scrape(url), 'veza_graphql_operations_total', LABELS);

/** The series of `after` that changed since `before`, with how much. */
function changed(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of Object.entries(after))
    if (value !== (before[key] ?? 0)) out[key] = value - (before[key] ?? 0);
  return out;
}

const METRICS: VezaMetricsModuleOptions = { defaultMetrics: { enabled: false } };

describe.each<Driver>([...DRIVERS])('GraphQL request kinds on %s', (driver) => {
  let bare: { app: INestApplication; url: string };
  let measured: { app: INestApplication; url: string };

  beforeAll(async () => {
    bare = await start(driver, undefined);
    measured = await start(driver, METRICS);
  });
  afterAll(async () => {
    await bare?.app.close();
    await measured?.app.close();
  });

  it("records each kind of request as docs/graphql.md's table says, and answers as the bare app", async () => {
    const seen: Array<{ kind: string; recorded: Record<string, number> }> = [];
    const expected: Array<{ kind: string; recorded: Record<string, number> }> = [];
    for (const row of REQUEST_KINDS) {
      const [a, before] = [await send(bare.url, row.request), await operations(measured.url)];
      const b = await send(measured.url, row.request);
      expect({ kind: row.kind, ...b }).toEqual({ kind: row.kind, ...a });
      seen.push({ kind: row.kind, recorded: changed(before, await operations(measured.url)) });
      expected.push({ kind: row.kind, recorded: { [row.recorded[driver]]: 1 } });
    }
    expect(seen).toEqual(expected);
  });
});

describe.each<Driver>([...DRIVERS])('GraphQL operation-name slots on %s', (driver) => {
  let started: { app: INestApplication; url: string };

  beforeAll(async () => {
    started = await start(driver, { ...METRICS, graphql: { maxOperationNames: 5 } });
  });
  afterAll(async () => started?.app.close());

  it('20 refused names (validation, variables, subscription over HTTP) take none of the 5 slots', async () => {
    for (let i = 0; i < 20; i++) {
      const junk: GraphqlRequest[] = [
        { query: `query Junk${i} { nope }` },
        { query: `query Junk${i}($id: Int!) { track(id: $id) { id } }` },
        { query: `query Junk${i}($id: Int!) { track(id: $id) { id } }`, variables: { id: 'x' } },
        { query: `subscription Junk${i} { ticks }` },
      ];
      await send(started.url, junk[i % junk.length]);
    }
    for (let i = 0; i < 7; i++) await send(started.url, { query: `query Real${i} { tracks { id } }` });
    await send(started.url, { query: 'query Real0 { nope }' }); // a refusal under a name that ran keeps it
    expect(await operations(started.url)).toEqual({
      'query <other> request_error': 15,
      'subscription <other> request_error': 5,
      'query Real0 success': 1,
      'query Real0 request_error': 1,
      'query Real1 success': 1,
      'query Real2 success': 1,
      'query Real3 success': 1,
      'query Real4 success': 1,
      'query <other> success': 2,
    });
  });
});

describe('Mercurius: a refused document answered from its error cache', () => {
  /** A ~560 KB document that parses and fails validation (an unknown field at its end). */
  const big = refusedDocument(560_000);
  let parses = 0;
  let spy: jest.SpyInstance;

  beforeAll(() => {
    const parseDocument = Parser.prototype.parseDocument;
    spy = jest.spyOn(Parser.prototype, 'parseDocument').mockImplementation(function (this: Parser) {
      parses++;
      return parseDocument.call(this);
    });
  });
  afterAll(() => spy.mockRestore());

  it.each([
    ['without the library', undefined],
    ['with the library', METRICS],
  ])('is parsed once for 5 requests, %s', async (_what, metrics) => {
    expect(big.length).toBeGreaterThan(500_000);
    const started = await start('mercurius', metrics);
    try {
      parses = 0;
      const replies = [];
      for (let i = 0; i < 5; i++) replies.push(await send(started.url, { query: big }));
      expect(replies.map((r) => r.status)).toEqual([400, 400, 400, 400, 400]);
      expect(parses).toBe(1);
      if (metrics) expect(await operations(started.url)).toEqual({ 'query <other> request_error': 5 });
    } finally {
      await started.app.close();
    }
  });
});
