/**
 * Issue 15 (GraphQL), hostile input: 10,000 distinct operation names and 10,000 malformed
 * documents leave the operation families within their cap, with exact sums; the options turn
 * each family off, or widen the resolvers to every field.
 */
import type { INestApplication } from '@nestjs/common';
import { VezaMetricsModule } from '../../src';
import { scrape, startApp } from '../utils/app';
import { samples } from './http-client.fixture';
import { gql, startGraphqlApp, type GraphqlDriverKind } from './graphql-app.fixture';

jest.setTimeout(600_000);

/** Sends `count` requests built by `query(i)`, `concurrency` at a time. */
async function flood(
  url: string,
  count: number,
  query: (i: number) => string,
  concurrency = 16,
): Promise<Record<number, number>> {
  const statuses: Record<number, number> = {};
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const { status } = await gql(url, query(next++));
        statuses[status] = (statuses[status] ?? 0) + 1;
      }
    }),
  );
  return statuses;
}

const sum = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0);

describe.each<GraphqlDriverKind>(['apollo-express', 'apollo-fastify', 'mercurius'])(
  'GraphQL on %s under hostile input',
  (driver) => {
    let started: { app: INestApplication; url: string };

    beforeAll(async () => {
      started = await startGraphqlApp(driver, 'code-first', [
        VezaMetricsModule.forRoot({ defaultMetrics: { enabled: false } }),
      ]);
    });
    afterAll(async () => started?.app.close());

    it('10,000 distinct names and 10,000 malformed documents: 100 names, then <other>; sums exact', async () => {
      await flood(started.url, 10_000, (i) => `query Op${i} { tracks { id } }`);
      await flood(started.url, 10_000, (i) => `query Bad${i} { tracks { id ${'{'.repeat(i % 7)}`);
      const text = await scrape(started.url);
      const operations = samples(text, 'veza_graphql_operations_total', [
        'operation_type',
        'operation_name',
        'outcome',
      ]);
      const named = Object.keys(operations).filter((k) => /^query Op\d+ success$/.test(k));
      expect(named).toHaveLength(100);
      expect(operations['query <other> success']).toBe(9_900);
      expect(operations['unknown <anonymous> request_error']).toBe(10_000);
      expect(Object.keys(operations)).toHaveLength(102);
      expect(sum(operations)).toBe(20_000);
      const durations = samples(text, 'veza_graphql_operation_duration_seconds_count', [
        'operation_type',
        'operation_name',
      ]);
      expect(Object.keys(durations)).toHaveLength(102);
      expect(sum(durations)).toBe(20_000);
      // Nothing reached the series guard's overflow: the names were bounded before.
      expect(samples(text, 'veza_metrics_series_overflow_total', ['metric'])).toEqual({});
      // Resolvers: one Query.tracks per executed operation.
      expect(samples(text, 'veza_graphql_resolver_duration_seconds_count', ['parent_type', 'field'])).toEqual(
        { 'Query tracks': 10_000 },
      );
      // The document's text is in no label.
      expect(text).not.toContain('tracks {');
    });
  },
);

describe('graphql options', () => {
  const ops = ['query GetTrack { track(id: 1) { id title artist } }', 'query Throws { throwing }', 'query {'];
  let apps: Array<{ app: INestApplication; url: string }> = [];
  afterEach(async () => {
    await Promise.all(apps.map((a) => a.app.close()));
    apps = [];
  });

  it.each<GraphqlDriverKind>(['apollo-express', 'mercurius'])(
    'graphql: false on %s records no GraphQL family and answers the same',
    async (driver) => {
      const off = await startGraphqlApp(driver, 'code-first', [
        VezaMetricsModule.forRoot({ defaultMetrics: { enabled: false }, graphql: false }),
      ]);
      const bare = await startGraphqlApp(driver, 'code-first', []);
      apps.push(off, bare);
      for (const q of ops) expect(await gql(off.url, q)).toEqual(await gql(bare.url, q));
      const text = await scrape(off.url);
      expect(text).not.toContain('veza_graphql_');
      expect(samples(text, 'veza_http_requests_total', ['endpoint'])).toEqual({ '/graphql': 3 });
    },
  );

  it.each<GraphqlDriverKind>(['apollo-fastify', 'mercurius'])(
    "resolvers: 'all' on %s times the fields read off the parent too",
    async (driver) => {
      const all = await startGraphqlApp(driver, 'code-first', [
        VezaMetricsModule.forRoot({
          defaultMetrics: { enabled: false },
          graphql: { resolvers: 'all', operations: false },
        }),
      ]);
      apps.push(all);
      await gql(all.url, ops[0]);
      const text = await scrape(all.url);
      expect(samples(text, 'veza_graphql_resolver_duration_seconds_count', ['parent_type', 'field'])).toEqual(
        {
          'Query track': 1,
          'Track id': 1,
          'Track title': 1,
          'Track artist': 1,
        },
      );
      expect(text).not.toContain('veza_graphql_operation');
    },
  );

  it('an application without GraphQL exposes no GraphQL family', async () => {
    const plain = await startApp('express', {
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: { enabled: false } })],
    });
    apps.push(plain);
    expect(await scrape(plain.url)).not.toContain('veza_graphql_');
  });
});
