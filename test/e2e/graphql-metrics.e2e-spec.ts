/**
 * Issue 15 (GraphQL): operations and resolvers recorded with no code in the resolvers, on real
 * Apollo servers (Express and Fastify) and a real Mercurius server (Fastify), code-first and
 * schema-first, over HTTP; the responses are those of the same app without the library.
 */
import type { INestApplication } from '@nestjs/common';
import { VezaMetricsModule } from '../../src';
import { scrape } from '../utils/app';
import { samples } from './http-client.fixture';
import { gql, startGraphqlApp, type GraphqlDriverKind, type SchemaStyle } from './graphql-app.fixture';

jest.setTimeout(120_000);

/** The known set of operations, each with its expected labels. */
const OPERATIONS: Array<{ what: string; query: string; operationName?: string }> = [
  { what: 'named query', query: 'query GetTrack { track(id: 1) { id title artist } }' },
  { what: 'anonymous query', query: '{ tracks { id artist } }' },
  { what: 'mutation', query: 'mutation AddPlaylist { createPlaylist(name: "mix") { id name } }' },
  { what: 'validation error', query: 'query Bad { nope }' },
  { what: 'parse error', query: 'query {' },
  { what: 'resolver error', query: 'query Fails { failing }' },
  { what: 'throwing resolver', query: 'query Throws { throwing }' },
  {
    what: 'two operations, one chosen',
    query: 'query A { tracks { id } } query B { track(id: 2) { title } }',
    operationName: 'B',
  },
];

const EXPECTED_OPERATIONS = {
  'query GetTrack success': 1,
  'query <anonymous> success': 1,
  'mutation AddPlaylist success': 1,
  // Refused, under a name no operation that ran holds: no slot of its own (issue 21 item 8).
  'query <other> request_error': 1,
  'unknown <anonymous> request_error': 1,
  'query Fails resolver_error': 1,
  'query Throws resolver_error': 1,
  'query B success': 1,
};

const CASES: Array<[GraphqlDriverKind, SchemaStyle]> = [
  ['apollo-express', 'code-first'],
  ['apollo-fastify', 'code-first'],
  ['mercurius', 'code-first'],
  ['apollo-express', 'schema-first'],
  ['mercurius', 'schema-first'],
];

describe.each(CASES)('GraphQL on %s, %s', (driver, style) => {
  let bare: { app: INestApplication; url: string };
  let measured: { app: INestApplication; url: string };

  beforeAll(async () => {
    bare = await startGraphqlApp(driver, style, []);
    measured = await startGraphqlApp(driver, style, [
      VezaMetricsModule.forRoot({ defaultMetrics: { enabled: false } }),
    ]);
  });
  afterAll(async () => {
    await bare?.app.close();
    await measured?.app.close();
  });

  it('answers exactly as the app without the library, and records each operation once', async () => {
    for (const op of OPERATIONS) {
      const [a, b] = [
        await gql(bare.url, op.query, op.operationName),
        await gql(measured.url, op.query, op.operationName),
      ];
      expect({ what: op.what, ...b }).toEqual({ what: op.what, ...a });
    }
    const text = await scrape(measured.url);
    expect(
      samples(text, 'veza_graphql_operations_total', ['operation_type', 'operation_name', 'outcome']),
    ).toEqual(EXPECTED_OPERATIONS);
    expect(
      samples(text, 'veza_graphql_operation_duration_seconds_count', ['operation_type', 'operation_name']),
    ).toEqual({
      'query GetTrack': 1,
      'query <anonymous>': 1,
      'mutation AddPlaylist': 1,
      'query <other>': 1,
      'unknown <anonymous>': 1,
      'query Fails': 1,
      'query Throws': 1,
      'query B': 1,
    });
    // Root fields and fields with a resolver of their own; Track.id/title (read off the parent) are not timed.
    expect(samples(text, 'veza_graphql_resolver_duration_seconds_count', ['parent_type', 'field'])).toEqual({
      'Query track': 2,
      'Query tracks': 1,
      'Track artist': 3,
      'Mutation createPlaylist': 1,
      'Query failing': 1,
      'Query throwing': 1,
    });
    expect(
      samples(text, 'veza_graphql_resolver_errors_total', ['parent_type', 'field', 'error_type']),
    ).toEqual({
      'Query failing NotFoundException': 1,
      'Query throwing TypeError': 1,
    });
    // The HTTP buckets, on both duration families.
    const bounds = (name: string): string[] => Object.keys(samples(text, name, ['le']));
    expect(bounds('veza_graphql_operation_duration_seconds_bucket')).toEqual(
      bounds('veza_http_request_duration_seconds_bucket'),
    );
    expect(bounds('veza_graphql_resolver_duration_seconds_bucket')).toEqual(
      bounds('veza_http_request_duration_seconds_bucket'),
    );
  });
});
