/**
 * Issue 15 (GraphQL): active subscriptions and subscription events, over real WebSocket
 * subscriptions (graphql-ws protocol) on Apollo (Express) and Mercurius (Fastify).
 */
import type { INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule, Int, Query, Resolver, Subscription } from '@nestjs/graphql';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { VezaMetricsModule } from '../../src';
import { scrape, startApp } from '../utils/app';
import { samples } from './http-client.fixture';

jest.setTimeout(120_000);

@Resolver()
class TicksResolver {
  @Query(() => Int)
  ping(): number {
    return 1;
  }

  /** Three events, then the stream ends. */
  @Subscription(() => Int)
  ticks(): AsyncIterableIterator<{ ticks: number }> {
    return (async function* () {
      for (let i = 1; i <= 3; i++) yield await Promise.resolve({ ticks: i });
    })();
  }

  /** Events until the client leaves. */
  @Subscription(() => Int)
  forever(): AsyncIterableIterator<{ forever: number }> {
    return (async function* () {
      for (let i = 0; ; i++) {
        yield { forever: i };
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
  }
}

type Driver = 'apollo-express' | 'mercurius';

async function start(driver: Driver): Promise<{ app: INestApplication; url: string }> {
  const graphql =
    driver === 'mercurius'
      ? GraphQLModule.forRoot<MercuriusDriverConfig>({
          driver: MercuriusDriver,
          graphiql: false,
          autoSchemaFile: true,
          subscription: true,
        })
      : GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          playground: false,
          autoSchemaFile: true,
          subscriptions: { 'graphql-ws': true },
        });
  return startApp(driver === 'mercurius' ? 'fastify' : 'express', {
    imports: [VezaMetricsModule.forRoot({ defaultMetrics: { enabled: false } }), graphql],
    providers: [TicksResolver],
  });
}

/** Subscribes to `query` and collects `take` values (all of them when 0), then leaves. */
function collect(client: Client, query: string, take: number): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const got: unknown[] = [];
    const dispose = client.subscribe(
      { query },
      {
        next: (value) => {
          got.push(value.data);
          if (take > 0 && got.length === take) {
            dispose();
            resolve(got);
          }
        },
        error: reject,
        complete: () => resolve(got),
      },
    );
  });
}

async function until(check: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error('condition never held');
}

describe.each<Driver>(['apollo-express', 'mercurius'])('GraphQL subscriptions on %s', (driver) => {
  let started: { app: INestApplication; url: string };
  let client: Client;

  beforeAll(async () => {
    started = await start(driver);
    client = createClient({
      url: started.url.replace('http', 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      lazy: true,
      retryAttempts: 0,
    });
  });
  afterAll(async () => {
    await client?.dispose();
    await started?.app.close();
  });

  it('follows each subscription while it is open and counts each event once', async () => {
    expect(await collect(client, 'subscription { ticks }', 0)).toEqual([
      { ticks: 1 },
      { ticks: 2 },
      { ticks: 3 },
    ]);
    expect(await collect(client, 'subscription { forever }', 2)).toEqual([{ forever: 0 }, { forever: 1 }]);
    const active = async (): Promise<Record<string, number>> =>
      samples(await scrape(started.url), 'veza_graphql_subscriptions_active', ['field']);
    // The client left `forever`: the server closes its stream as the message arrives.
    await until(async () => (await active()).forever === 0);
    const text = await scrape(started.url);
    expect(samples(text, 'veza_graphql_subscriptions_active', ['field'])).toEqual({ ticks: 0, forever: 0 });
    const events = samples(text, 'veza_graphql_subscription_events_total', ['field']);
    expect(events.ticks).toBe(3);
    // `forever` yielded at least the two events the client took; one more may have been in flight.
    expect(events.forever).toBeGreaterThanOrEqual(2);
    expect(events.forever).toBeLessThanOrEqual(3);
  });
});
