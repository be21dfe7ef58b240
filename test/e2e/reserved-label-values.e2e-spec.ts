/**
 * Issue 21 item 9: a value from input never equals a reserved value. `query __overflow__ { ... }`,
 * a request path segment `__overflow__` or `OtherError` handed to a decorator's label function, an
 * upstream error `code` of `OtherError`: each is recorded escaped (`\__overflow__`), never in the
 * overflow series, never counted in `veza_metrics_series_overflow_total`, never under the library's
 * own `OtherError`.
 */
import type { INestApplication } from '@nestjs/common';
import { Controller, Get, Injectable, Param } from '@nestjs/common';
import { Counted, CountErrors, OTHER_ERROR_TYPE, VezaMetricsModule } from '../../src';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { parseExposition, sampleValue } from '../utils/exposition';
import { rawRequest } from '../utils/raw-http';
import { samples } from './http-client.fixture';
import { gql, startGraphqlApp, type GraphqlDriverKind } from './graphql-app.fixture';

const overflowCounts = (text: string) => samples(text, 'veza_metrics_series_overflow_total', ['metric']);

describe.each<GraphqlDriverKind>(['apollo-express', 'apollo-fastify', 'mercurius'])(
  'GraphQL operation names equal to reserved values (%s)',
  (driver) => {
    let started: { app: INestApplication; url: string };
    beforeAll(async () => {
      started = await startGraphqlApp(driver, 'code-first', [
        VezaMetricsModule.forRoot({ defaultMetrics: { enabled: false } }),
      ]);
    });
    afterAll(async () => started?.app.close());

    it('query __overflow__ and query __invalid__ are recorded as \\__overflow__ and \\__invalid__: no overflow, the operation under its own labels', async () => {
      for (let i = 0; i < 3; i++)
        expect((await gql(started.url, 'query __overflow__ { tracks { id } }')).status).toBe(200);
      expect((await gql(started.url, 'query __invalid__ { tracks { id } }')).status).toBe(200);
      expect((await gql(started.url, 'query Real { tracks { id } }')).status).toBe(200);
      const text = await scrape(started.url);
      expect(
        samples(text, 'veza_graphql_operations_total', ['operation_type', 'operation_name', 'outcome']),
      ).toEqual({
        'query \\__overflow__ success': 3,
        'query \\__invalid__ success': 1,
        'query Real success': 1,
      });
      expect(text).toContain(
        'veza_graphql_operations_total{operation_type="query",operation_name="\\\\__overflow__",outcome="success"} 3',
      );
      const durations = samples(text, 'veza_graphql_operation_duration_seconds_count', [
        'operation_type',
        'operation_name',
      ]);
      expect(durations['query \\__overflow__']).toBe(3);
      expect(overflowCounts(text)).toEqual({});
      expect(text).not.toMatch(/="__overflow__"/);
    });
  },
);

@Injectable()
class Plans {
  @Counted({
    name: 'app_plan_views_total',
    help: 'Plan pages viewed, by plan',
    labelNames: ['plan'],
    labels: ({ args: [plan] }) => ({ plan: plan as string }),
  })
  view(plan: string): string {
    return plan;
  }

  /** Rethrows what an upstream answered: an error with the upstream's `code`. */
  @CountErrors()
  charge(code: string): never {
    throw Object.assign(new Error('upstream refused'), { code });
  }

  /** Rethrows an upstream's parsed error body: not an error, so the library's own OtherError. */
  @CountErrors()
  rethrow(): never {
    throw JSON.parse('{"constructor":{"name":"Upstream"}}');
  }
}

@Controller()
class PlansController {
  constructor(private readonly plans: Plans) {}

  @Get('plans/:plan')
  view(@Param('plan') plan: string): string {
    return this.plans.view(plan);
  }

  @Get('charge/:code')
  charge(@Param('code') code: string): string {
    try {
      this.plans.charge(code);
    } catch {
      // answered below
    }
    return 'refused';
  }

  @Get('rethrow')
  rethrow(): string {
    try {
      this.plans.rethrow();
    } catch {
      // answered below
    }
    return 'refused';
  }
}

describe.each(ADAPTERS)('reserved values from a request path through decorators (%s)', (kind) => {
  it('a path segment __overflow__, OtherError or <unmatched> given to a label function, an upstream code OtherError: escaped, never overflow nor the library value', async () => {
    const { app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, cardinality: { maxSeries: 10 } })],
      controllers: [PlansController],
      providers: [Plans],
    });
    try {
      for (const plan of ['__overflow__', '__overflow__', 'OtherError', '%3Cunmatched%3E', 'pro'])
        expect((await rawRequest(url, `/plans/${plan}`)).status).toBe(200);
      for (const code of ['OtherError', '__overflow__', 'ER_DUP_ENTRY'])
        expect((await rawRequest(url, `/charge/${code}`)).status).toBe(200);
      expect((await rawRequest(url, '/rethrow')).status).toBe(200);
      const text = await scrape(url);
      const plans = parseExposition(text).get('app_plan_views_total')?.samples ?? [];
      expect(plans.map((s) => [s.labels, s.value])).toEqual([
        [{ plan: '\\__overflow__' }, 2],
        [{ plan: '\\OtherError' }, 1],
        [{ plan: '\\<unmatched>' }, 1],
        [{ plan: 'pro' }, 1],
      ]);
      expect(samples(text, 'veza_errors_total', ['type', 'severity'])).toEqual({
        '\\OtherError error': 1,
        '\\__overflow__ error': 1,
        'ER_DUP_ENTRY error': 1,
        [`${OTHER_ERROR_TYPE} error`]: 1,
      });
      expect(sampleValue(text, 'veza_errors_total', { type: OTHER_ERROR_TYPE, severity: 'error' })).toBe(1);
      expect(overflowCounts(text)).toEqual({});
    } finally {
      await app.close();
    }
  }, 60_000);
});
