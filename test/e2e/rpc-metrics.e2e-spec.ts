/**
 * Issue 15, microservices: every message a @MessagePattern() or @EventPattern() handler handles is
 * counted once in veza_rpc_server_requests_total{transport, pattern, kind, outcome} and timed once
 * in veza_rpc_server_duration_seconds{transport, pattern, kind} (an Observable reply to its
 * completion), with no code in the handlers, on real transports: TCP, Redis (redis-server), NATS
 * (nats-server), MQTT (mosquitto), RabbitMQ (rabbitmq-server), gRPC; standalone and hybrid (Express and Fastify). A failed
 * handler also counts in veza_errors_total. Replies and errors are the handler's own.
 */
import { Module, type INestApplication, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ClientProxyFactory, Transport, type ClientGrpc, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, lastValueFrom, toArray, type Observable } from 'rxjs';
import { VezaMetricsModule, VezaMetricsRegistry } from '../../src';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { startMosquitto, startNats, startRabbitmq, startRedis, type Broker } from '../utils/brokers';
import { freePort } from '../utils/prometheus';
import { samples } from './http-client.fixture';
import {
  KNOWN_SET_ERRORS,
  knownSetCounts,
  knownSetDurations,
  RANGE_STEP_MS,
  sendKnownSet,
  TRACKS_PROTO,
  TracksGrpcController,
  TracksRpcController,
} from './rpc-transports.fixture';

jest.setTimeout(120_000);

const REQUESTS = 'veza_rpc_server_requests_total';
const DURATION_COUNT = 'veza_rpc_server_duration_seconds_count';
const DURATION_SUM = 'veza_rpc_server_duration_seconds_sum';

function rpcModule(
  options: Parameters<typeof VezaMetricsModule.forRoot>[0] = {},
  grpc = false,
): new () => unknown {
  @Module({
    imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, ...options })],
    controllers: [grpc ? TracksGrpcController : TracksRpcController],
  })
  class RpcModule {}
  return RpcModule;
}

interface TransportCase {
  readonly name: string;
  /** The broker, or undefined when its program is missing (skipped, outside CI). */
  readonly broker: () => Promise<Broker | undefined>;
  readonly config: (
    broker: Broker | undefined,
    port: number,
  ) => { transport: Transport; options: Record<string, unknown> };
}

const noBroker = (): Promise<Broker | undefined> =>
  Promise.resolve({ port: 0, url: '', stop: () => Promise.resolve() });

const TRANSPORTS: TransportCase[] = [
  {
    name: 'tcp',
    broker: noBroker,
    config: (_b, port) => ({ transport: Transport.TCP, options: { host: '127.0.0.1', port } }),
  },
  {
    name: 'redis',
    broker: startRedis,
    config: (b) => ({ transport: Transport.REDIS, options: { host: '127.0.0.1', port: b?.port } }),
  },
  {
    name: 'nats',
    broker: startNats,
    config: (b) => ({ transport: Transport.NATS, options: { servers: [b?.url] } }),
  },
  {
    name: 'mqtt',
    broker: startMosquitto,
    config: (b) => ({ transport: Transport.MQTT, options: { url: b?.url } }),
  },
  {
    name: 'rmq',
    broker: startRabbitmq,
    config: (b) => ({
      transport: Transport.RMQ,
      options: { urls: [b?.url], queue: 'veza_rpc', queueOptions: { durable: false } },
    }),
  },
];

async function render(app: INestMicroservice | INestApplication): Promise<string> {
  return app.get(VezaMetricsRegistry).render();
}

describe.each(TRANSPORTS)('RPC handlers of a standalone microservice over $name', (tc) => {
  let broker: Broker | undefined;
  let app: INestMicroservice;
  let client: ClientProxy;

  beforeAll(async () => {
    broker = await tc.broker();
    if (!broker) return;
    const config = tc.config(broker, await freePort());
    app = await NestFactory.createMicroservice(rpcModule(), { ...config, logger: false });
    await app.listen();
    client = ClientProxyFactory.create(config as never) as unknown as ClientProxy;
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await app?.close();
    await broker?.stop();
  });

  it('counts and times each message of the known set once, with the replies and errors of the handlers', async () => {
    if (!broker) return;
    await sendKnownSet(client);
    const text = await render(app);
    expect(samples(text, REQUESTS, ['transport', 'pattern', 'kind', 'outcome'])).toEqual(
      knownSetCounts(tc.name),
    );
    expect(samples(text, DURATION_COUNT, ['transport', 'pattern', 'kind'])).toEqual(
      knownSetDurations(tc.name),
    );
    expect(samples(text, 'veza_errors_total', ['type', 'severity'])).toEqual(KNOWN_SET_ERRORS);
    // The Observable reply is timed to its completion: its third value comes two steps after the first.
    const rangeSum = samples(text, DURATION_SUM, ['pattern'])['tracks.range'] ?? 0;
    expect(rangeSum).toBeGreaterThanOrEqual((2 * RANGE_STEP_MS) / 1000 - 0.005);
  });
});

describe('RPC handlers over gRPC (@grpc/grpc-js)', () => {
  let app: INestMicroservice;
  let client: ClientGrpc & { close(): void };
  interface Tracks {
    sum(request: { numbers: number[] }): Observable<{ value: number }>;
    fail(request: { numbers: number[] }): Observable<{ value: number }>;
    range(request: { count: number }): Observable<{ value: number }>;
  }

  beforeAll(async () => {
    const url = `127.0.0.1:${await freePort()}`;
    const options = { package: 'veza.tracks', protoPath: TRACKS_PROTO, url };
    app = await NestFactory.createMicroservice(rpcModule({}, true), {
      transport: Transport.GRPC,
      options,
      logger: false,
    });
    await app.listen();
    client = ClientProxyFactory.create({ transport: Transport.GRPC, options });
  });

  afterAll(async () => {
    client?.close();
    await app?.close();
  });

  it('counts and times each call under Service/Method, a streamed reply to its end', async () => {
    const tracks = client.getService<Tracks>('Tracks');
    await expect(firstValueFrom(tracks.sum({ numbers: [1, 2, 3] }))).resolves.toEqual({ value: 6 });
    await expect(firstValueFrom(tracks.sum({ numbers: [4] }))).resolves.toEqual({ value: 4 });
    await expect(firstValueFrom(tracks.fail({ numbers: [] }))).rejects.toMatchObject({
      code: 5,
      details: 'no such track',
    });
    await expect(lastValueFrom(tracks.range({ count: 3 }).pipe(toArray()))).resolves.toEqual([
      { value: 0 },
      { value: 1 },
      { value: 2 },
    ]);
    const text = await render(app);
    expect(samples(text, REQUESTS, ['transport', 'pattern', 'kind', 'outcome'])).toEqual({
      'grpc Tracks/Sum request success': 2,
      'grpc Tracks/Fail request error': 1,
      'grpc Tracks/Range request success': 1,
    });
    expect(samples(text, DURATION_COUNT, ['transport', 'pattern', 'kind'])).toEqual({
      'grpc Tracks/Sum request': 2,
      'grpc Tracks/Fail request': 1,
      'grpc Tracks/Range request': 1,
    });
    expect(samples(text, 'veza_errors_total', ['type', 'severity'])).toEqual({ 'RpcException error': 1 });
    expect(samples(text, DURATION_SUM, ['pattern'])['Tracks/Range']).toBeGreaterThanOrEqual(
      (2 * RANGE_STEP_MS) / 1000 - 0.005,
    );
  });
});

describe.each(ADAPTERS)('RPC handlers of a hybrid application on %s (TCP)', (adapter) => {
  let app: INestApplication;
  let url: string;
  let client: ClientProxy;

  beforeAll(async () => {
    const port = await freePort();
    ({ app, url } = await startApp(adapter, { imports: [rpcModule({ statusLabel: 'code' })] }, (a) => {
      a.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    }));
    await app.startAllMicroservices();
    client = ClientProxyFactory.create({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
    await client.connect();
  });

  afterAll(async () => {
    await client?.close();
    await app?.close();
  });

  it('serves the RPC families on /metrics, and no RPC message counts as HTTP', async () => {
    await sendKnownSet(client);
    const text = await scrape(url);
    expect(samples(text, REQUESTS, ['transport', 'pattern', 'kind', 'outcome'])).toEqual(
      knownSetCounts('tcp'),
    );
    expect(samples(text, DURATION_COUNT, ['transport', 'pattern', 'kind'])).toEqual(knownSetDurations('tcp'));
    expect(samples(text, 'veza_errors_total', ['type', 'severity'])).toEqual(KNOWN_SET_ERRORS);
    expect(samples(text, 'veza_http_requests_total', ['method', 'endpoint', 'status'])).toEqual({});
  });
});

describe('option rpc: false', () => {
  it('hooks nothing: the same replies, no RPC family', async () => {
    const port = await freePort();
    const config = { transport: Transport.TCP as const, options: { host: '127.0.0.1', port } };
    const app = await NestFactory.createMicroservice(rpcModule({ rpc: false }), { ...config, logger: false });
    await app.listen();
    const client = ClientProxyFactory.create(config);
    try {
      await sendKnownSet(client);
      const text = await render(app);
      expect(text).not.toContain('veza_rpc_server');
      expect(samples(text, 'veza_errors_total', ['type', 'severity'])).toEqual({});
    } finally {
      await client.close();
      await app.close();
    }
  });

  it('an application without microservices exposes no RPC family', async () => {
    const { app, url } = await startApp('express', { imports: [rpcModule()] });
    try {
      expect(await scrape(url)).not.toContain('veza_rpc_server');
    } finally {
      await app.close();
    }
  });
});
