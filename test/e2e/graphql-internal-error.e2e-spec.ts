/**
 * Issue 15 (GraphQL), outcome `internal_error`: an operation whose execution itself throws (not a
 * resolver: the execution step of the server) counts once under `internal_error`, on a real Apollo
 * server (Express and Fastify: a `rootValue` function that throws) and a real Mercurius server (a
 * `preExecution` hook of the application that throws). Beside it, a resolver rejecting a hostile
 * error (an own `constructor` getter that throws): the library reads an error's class from its
 * prototype, never from the error's own properties (issue #21, item 4), so the getter never runs and
 * the error is counted under its class, `Error`; the operation and the resolver's duration are
 * recorded exactly. Every reply is the one the same app gives without the library.
 */
import { Module, type DynamicModule, type INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { GraphQLModule, Query, Resolver } from '@nestjs/graphql';
import { VezaMetricsModule } from '../../src';
import { scrape, startApp } from '../utils/app';
import { samples } from './http-client.fixture';
import { gql, TrackResolver, type GraphqlDriverKind } from './graphql-app.fixture';

jest.setTimeout(120_000);

/** The operation whose execution throws. */
const BROKEN = 'Broken';

/** True for a document whose first operation is named `Broken`. */
function isBroken(document: unknown): boolean {
  const first = (document as { definitions?: Array<{ name?: { value?: string } }> }).definitions?.[0];
  return first?.name?.value === BROKEN;
}

function executionFailure(): Error {
  return new Error('execution unavailable');
}

/** How many times a hostile error's own `constructor` getter ran, in either app. */
let hostileGetterRuns = 0;

/** An Error with an own `constructor` getter that throws. */
function hostileError(): Error {
  const error = new Error('hostile');
  Object.defineProperty(error, 'constructor', {
    get(): never {
      hostileGetterRuns++;
      throw new Error('constructor getter refused');
    },
  });
  return error;
}

@Resolver()
class HostileResolver {
  @Query(() => String, { nullable: true })
  hostile(): Promise<string> {
    return Promise.reject(hostileError());
  }
}

function graphqlModule(driver: GraphqlDriverKind): DynamicModule {
  if (driver === 'mercurius')
    return GraphQLModule.forRoot<MercuriusDriverConfig>({
      driver: MercuriusDriver,
      graphiql: false,
      autoSchemaFile: true,
      hooks: {
        preExecution: (_schema: unknown, document: unknown) => {
          if (isBroken(document)) throw executionFailure();
        },
      },
    });
  return GraphQLModule.forRoot<ApolloDriverConfig>({
    driver: ApolloDriver,
    playground: false,
    graphiql: false,
    autoSchemaFile: true,
    rootValue: (document: unknown) => {
      if (isBroken(document)) throw executionFailure();
      return undefined;
    },
  });
}

async function start(
  driver: GraphqlDriverKind,
  recorded: boolean,
): Promise<{ app: INestApplication; url: string }> {
  @Module({
    imports: [
      ...(recorded ? [VezaMetricsModule.forRoot({ defaultMetrics: { enabled: false } })] : []),
      graphqlModule(driver),
    ],
    providers: [TrackResolver, HostileResolver],
  })
  class GraphqlModule {}
  return startApp(driver === 'apollo-express' ? 'express' : 'fastify', { imports: [GraphqlModule] });
}

const QUERIES = [
  `query ${BROKEN} { track(id: 1) { id } }`,
  'query GetTrack { track(id: 1) { id title } }',
  'query Hostile { hostile }',
  `query ${BROKEN} { tracks { id } }`,
];

describe.each<GraphqlDriverKind>(['apollo-express', 'apollo-fastify', 'mercurius'])(
  'GraphQL internal_error on %s',
  (driver) => {
    let bare: { app: INestApplication; url: string };
    let measured: { app: INestApplication; url: string };

    beforeAll(async () => {
      bare = await start(driver, false);
      measured = await start(driver, true);
    });
    afterAll(async () => {
      await bare?.app.close();
      await measured?.app.close();
    });

    it('counts an execution that threw under internal_error, exactly, and the replies are the bare app’s', async () => {
      for (const query of QUERIES) {
        const [a, b] = [await gql(bare.url, query), await gql(measured.url, query)];
        expect({ query, ...b }).toEqual({ query, ...a });
      }
      // The execution did fail in both apps: the reply carries the server's error, no data.
      const broken = await gql(bare.url, QUERIES[0]);
      expect(JSON.stringify(broken.body)).toContain('execution unavailable');

      const text = await scrape(measured.url);
      expect(text).toContain(
        'veza_graphql_operations_total{operation_type="query",operation_name="Broken",outcome="internal_error"} 2',
      );
      expect(
        samples(text, 'veza_graphql_operations_total', ['operation_type', 'operation_name', 'outcome']),
      ).toEqual({
        'query Broken internal_error': 2,
        'query GetTrack success': 1,
        'query Hostile resolver_error': 1,
      });
      expect(
        samples(text, 'veza_graphql_operation_duration_seconds_count', ['operation_type', 'operation_name']),
      ).toEqual({ 'query Broken': 2, 'query GetTrack': 1, 'query Hostile': 1 });
      // No resolver ran for Broken; the hostile error is timed, and counted under its class.
      expect(samples(text, 'veza_graphql_resolver_duration_seconds_count', ['parent_type', 'field'])).toEqual(
        {
          'Query track': 1,
          'Query hostile': 1,
        },
      );
      expect(
        samples(text, 'veza_graphql_resolver_errors_total', ['parent_type', 'field', 'error_type']),
      ).toEqual({ 'Query hostile Error': 1 });
      expect(hostileGetterRuns).toBe(0);
    });
  },
);
