/**
 * Hostile GraphQL input on every driver (issue 15), at a size the caller chooses: distinct operation
 * names past `graphql.maxOperationNames` and malformed documents leave the operation families within
 * the cap, with exact sums. test/e2e/graphql-hostile.e2e-spec.ts runs it small (a cap of 5), the
 * stress tier at the default cap.
 */
import type { INestApplication } from '@nestjs/common';
import type { Server } from 'node:http';
import { VezaMetricsModule } from '../../../src';
import { scrape } from '../app';
import { floodRequests, keepConnections } from '../flood-client';
import { samples } from '../../e2e/http-client.fixture';
import { startGraphqlApp, type GraphqlDriverKind } from '../../e2e/graphql-app.fixture';

export interface GraphqlHostileSizes {
  /** `graphql.maxOperationNames`; `undefined` leaves the default (100). */
  maxOperationNames?: number;
  /** Distinct operation names sent (one request each), more than the cap. */
  names: number;
  /** Malformed documents sent (one request each). */
  malformed: number;
}

const DEFAULT_MAX_OPERATION_NAMES = 100;
const sum = (record: Record<string, number>): number => Object.values(record).reduce((a, b) => a + b, 0);
const fmt = (n: number): string => n.toLocaleString('en-US');

export function describeGraphqlHostile(sizes: GraphqlHostileSizes): void {
  const cap = sizes.maxOperationNames ?? DEFAULT_MAX_OPERATION_NAMES;
  const { names, malformed } = sizes;
  if (names <= cap) throw new Error(`names (${names}) must exceed the cap (${cap})`);
  const graphql = sizes.maxOperationNames === undefined ? {} : { graphql: { maxOperationNames: cap } };
  const post = (query: string) => ({
    path: '/graphql',
    body: JSON.stringify({ query }),
    headers: { 'apollo-require-preflight': 'true' },
  });

  describe.each<GraphqlDriverKind>(['apollo-express', 'apollo-fastify', 'mercurius'])(
    'GraphQL on %s under hostile input',
    (driver) => {
      let started: { app: INestApplication; url: string };

      beforeAll(async () => {
        started = await startGraphqlApp(driver, 'code-first', [
          VezaMetricsModule.forRoot({ defaultMetrics: { enabled: false }, ...graphql }),
        ]);
        keepConnections(started.app.getHttpServer() as Server);
      });
      afterAll(async () => started?.app.close());

      it(`${fmt(names)} distinct names and ${fmt(malformed)} malformed documents: ${cap} names, then <other>; sums exact`, async () => {
        const named = await floodRequests(started.url, names, (i) => post(`query Op${i} { tracks { id } }`));
        const bad = await floodRequests(started.url, malformed, (i) =>
          post(`query Bad${i} { tracks { id ${'{'.repeat(i % 7)}`),
        );
        expect(sum(named)).toBe(names);
        expect(sum(bad)).toBe(malformed);
        const text = await scrape(started.url);
        const operations = samples(text, 'veza_graphql_operations_total', [
          'operation_type',
          'operation_name',
          'outcome',
        ]);
        expect(Object.keys(operations).filter((k) => /^query Op\d+ success$/.test(k))).toHaveLength(cap);
        expect(operations['query <other> success']).toBe(names - cap);
        expect(operations['unknown <anonymous> request_error']).toBe(malformed);
        expect(Object.keys(operations)).toHaveLength(cap + 2);
        expect(sum(operations)).toBe(names + malformed);
        const durations = samples(text, 'veza_graphql_operation_duration_seconds_count', [
          'operation_type',
          'operation_name',
        ]);
        expect(Object.keys(durations)).toHaveLength(cap + 2);
        expect(sum(durations)).toBe(names + malformed);
        // Nothing reached the series guard's overflow: the names were bounded before.
        expect(samples(text, 'veza_metrics_series_overflow_total', ['metric'])).toEqual({});
        // Resolvers: one Query.tracks per executed operation.
        expect(
          samples(text, 'veza_graphql_resolver_duration_seconds_count', ['parent_type', 'field']),
        ).toEqual({ 'Query tracks': names });
        // The document's text is in no label.
        expect(text).not.toContain('tracks {');
      });
    },
  );
}
