/**
 * Contract tests of src/compat/nest-microservices.ts: each assumption it makes of
 * @nestjs/microservices and @nestjs/core, by its name, against the installed version. A failure
 * here names the assumption that broke.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Controller, Module } from '@nestjs/common';
import { ModulesContainer, NestFactory } from '@nestjs/core';
import { EventPattern, MessagePattern, RpcException, ServerTCP, Transport } from '@nestjs/microservices';
import { isObservable, lastValueFrom, of } from 'rxjs';
import {
  captureRpcExceptions,
  instrumentServer,
  patternLabel,
  rpcException,
  transportName,
  watchRpcServers,
  type RpcHandler,
  type RpcServerLike,
} from '../../src/compat/nest-microservices';

const version = (
  JSON.parse(
    readFileSync(join(dirname(require.resolve('@nestjs/microservices')), 'package.json'), 'utf8'),
  ) as { version: string }
).version;
const against = `@nestjs/microservices ${version}`;
const HAS_REGISTRY =
  typeof (ModulesContainer.prototype as { getRpcTargetRegistry?: unknown }).getRpcTargetRegistry ===
  'function';

@Controller()
class Handlers {
  @MessagePattern('tracks.sum')
  sum(numbers: number[]): number {
    return numbers.reduce((a, b) => a + b, 0);
  }

  @MessagePattern('tracks.fail')
  fail(): never {
    throw new RpcException('no');
  }

  @EventPattern('track.played')
  first(_data: unknown): void {}

  @EventPattern('track.played')
  second(_data: unknown): void {}
}

@Module({ controllers: [Handlers] })
class HandlersModule {}

describe(`Nest microservices assumptions (${against})`, () => {
  it(`R1, R2: the container replays each server before its handlers are registered; messageHandlers holds their heads (${against})`, async () => {
    if (!HAS_REGISTRY) {
      // Nest 10: the documented fallback, nothing watched (and nothing recorded).
      expect(watchRpcServers(new ModulesContainer(), () => undefined)).toBeUndefined();
      return;
    }
    const seen: RpcServerLike[] = [];
    const sizes: number[] = [];
    const app = await NestFactory.createMicroservice(HandlersModule, {
      transport: Transport.TCP,
      options: { port: 0 },
      logger: false,
    });
    const stop = watchRpcServers(app.get(ModulesContainer), (server) => {
      seen.push(server);
      sizes.push(server.messageHandlers?.size ?? -1);
    });
    expect(stop).toBeDefined();
    await app.init();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(ServerTCP);
    expect(sizes).toEqual([0]);
    const handlers = seen[0]?.messageHandlers as Map<string, RpcHandler>;
    expect([...handlers.keys()].sort()).toEqual(['track.played', 'tracks.fail', 'tracks.sum']);
    expect(handlers.get('track.played')?.isEventHandler).toBe(true);
    expect(typeof handlers.get('track.played')?.next).toBe('function');
    stop?.();
    await app.close();
  });

  it(`R2: wrapped heads keep isEventHandler, extras and the chain of event handlers (${against})`, () => {
    const server = new ServerTCP({ port: 0 }) as unknown as RpcServerLike;
    const calls: string[] = [];
    const first = Object.assign(() => calls.push('first'), {});
    const second = Object.assign(() => calls.push('second'), {});
    const wrapped: string[] = [];
    expect(
      instrumentServer(server, (head, key) => {
        wrapped.push(key);
        return (...args: unknown[]) => head(...args);
      }),
    ).toBe(true);
    server.addHandler?.('track.played', first, true, { qos: 1 });
    server.addHandler?.('track.played', second, true);
    const head = server.messageHandlers?.get('track.played');
    expect(wrapped).toEqual(['track.played']);
    expect(head?.isEventHandler).toBe(true);
    expect(head?.extras).toEqual({ qos: 1 });
    expect(head?.next).toBe(second);
    head?.();
    expect(calls).toEqual(['first']);
  });

  it(`R3, R4: a failing handler resolves to an Observable that errors, after the exception handler saw the exception and the context (${against})`, async () => {
    expect(captureRpcExceptions()).toBe(true);
    const app = await NestFactory.createMicroservice(HandlersModule, {
      transport: Transport.TCP,
      options: { port: 0 },
      logger: false,
    });
    // Nest 11 and 12 name the transport server `serverInstance`; Nest 10 `server`.
    const nest = app as unknown as { serverInstance?: RpcServerLike; server?: RpcServerLike };
    const server = nest.serverInstance ?? nest.server;
    await app.init();
    const ctx = { args: [] };
    const fail = server?.messageHandlers?.get('tracks.fail') as RpcHandler;
    const result = await (fail([], ctx) as Promise<unknown>);
    expect(isObservable(result)).toBe(true);
    await expect(lastValueFrom(result as never)).rejects.toEqual({ status: 'error', message: 'no' });
    expect(rpcException([[], ctx])).toBeInstanceOf(RpcException);
    const sum = server?.messageHandlers?.get('tracks.sum') as RpcHandler;
    await expect(sum([1, 2], {}) as Promise<unknown>).resolves.toBe(3);
    await app.close();
  });

  it(`R5: transportId of the built-in servers, a custom strategy's name (${against})`, () => {
    expect(transportName(new ServerTCP({ port: 0 }) as unknown as RpcServerLike)).toBe('tcp');
    for (const [id, name] of [
      [Transport.REDIS, 'redis'],
      [Transport.NATS, 'nats'],
      [Transport.MQTT, 'mqtt'],
      [Transport.GRPC, 'grpc'],
      [Transport.RMQ, 'rmq'],
      [Transport.KAFKA, 'kafka'],
    ] as const) {
      expect(transportName({ transportId: id })).toBe(name);
    }
    class PubSubServer {}
    expect(
      transportName(Object.assign(new PubSubServer(), { transportId: Symbol('pubsub') }) as RpcServerLike),
    ).toBe('pubsub');
    expect(transportName(new PubSubServer() as RpcServerLike)).toBe('PubSubServer');
  });

  it('gRPC patterns are labelled Service/Method; others as the server keys them', () => {
    expect(patternLabel('{"rpc":"Sum","service":"Tracks","streaming":"no_stream"}', 'grpc')).toBe(
      'Tracks/Sum',
    );
    expect(patternLabel('{"cmd":"sum"}', 'tcp')).toBe('{"cmd":"sum"}');
    expect(isObservable(of(1))).toBe(true);
  });
});
