/**
 * Issue 15 (GraphQL), hostile input: distinct operation names past the cap and malformed documents
 * leave the operation families within their cap, with exact sums (test/utils/suites/graphql-hostile.ts,
 * small here, at the default cap in test/stress/graphql-hostile.stress-spec.ts); the options turn
 * each family off, or widen the resolvers to every field.
 */
import type { INestApplication } from '@nestjs/common';
import { VezaMetricsModule } from '../../src';
import { scrape, startApp } from '../utils/app';
import { describeGraphqlHostile } from '../utils/suites/graphql-hostile';
import { samples } from './http-client.fixture';
import { gql, startGraphqlApp, type GraphqlDriverKind } from './graphql-app.fixture';

/** A cap of 5 with ten times as many names proves what the default cap of 100 does (test/stress runs that). */
describeGraphqlHostile({ maxOperationNames: 5, names: 50, malformed: 50 });

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
