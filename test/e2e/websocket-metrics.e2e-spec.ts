/**
 * Issue 3, point 6: gateways are recorded with no code in them, on the Socket.IO and the ws
 * adapters, with real clients.
 */
import {
  Controller,
  Get,
  Injectable,
  Module,
  UseGuards,
  type CanActivate,
  type INestApplication,
} from '@nestjs/common';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway, WsException } from '@nestjs/websockets';
import { from, throwError, type Observable } from 'rxjs';
import { io, type Socket } from 'socket.io-client';
import WebSocket from 'ws';
import { VezaMetricsModule } from '../../src';
import { ADAPTERS, scrape } from '../utils/app';
import { sampleValue } from '../utils/exposition';
import { startHttpApp } from './http-app.fixture';

@Injectable()
class DenyGuard implements CanActivate {
  canActivate(): boolean {
    return false;
  }
}

/** One handler per outcome; not one line of metrics code. */
@WebSocketGateway()
class ChatGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: unknown): unknown {
    return data;
  }

  @SubscribeMessage('later')
  async later(): Promise<string> {
    await new Promise((resolve) => setTimeout(resolve, 5));
    return 'later';
  }

  @SubscribeMessage('stream')
  stream(): Observable<number> {
    return from([1, 2, 3]);
  }

  @SubscribeMessage('refuse')
  refuse(): never {
    throw new WsException('refused');
  }

  @SubscribeMessage('crash')
  crash(): Promise<never> {
    return Promise.reject(new Error('crash'));
  }

  @SubscribeMessage('streamFail')
  streamFail(): Observable<never> {
    return throwError(() => new WsException('stream failed'));
  }

  @SubscribeMessage('guarded')
  @UseGuards(DenyGuard)
  guarded(): string {
    return 'never';
  }
}

@Controller('ping')
class PingController {
  @Get()
  ping(): string {
    return 'pong';
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })],
  controllers: [PingController],
  providers: [ChatGateway],
})
class WsAppModule {}

/** How many of each message every client sends, and the status each must be counted with. */
const MESSAGES: Array<[event: string, times: number, status: 'success' | 'error']> = [
  ['echo', 5, 'success'],
  ['later', 3, 'success'],
  ['stream', 2, 'success'],
  ['refuse', 4, 'error'],
  ['crash', 2, 'error'],
  ['streamFail', 1, 'error'],
  ['guarded', 3, 'error'],
];
const CLIENTS = 3;

interface Client {
  send(event: string, data: unknown): void;
  close(): void;
}

type Transport = 'socket.io' | 'ws';

async function connect(url: string, transport: Transport): Promise<Client> {
  if (transport === 'socket.io') {
    const socket: Socket = io(url, { forceNew: true, reconnection: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('connect_error', reject);
    });
    return { send: (event, data) => socket.emit(event, data), close: () => socket.disconnect() };
  }
  const ws = new WebSocket(url.replace('http', 'ws'));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { send: (event, data) => ws.send(JSON.stringify({ event, data })), close: () => ws.close() };
}

/**
 * Scrapes until `read` gives `expected` (or 5 s pass), then once more 150 ms later (so that a count
 * going past `expected` is seen), and returns that last value.
 */
async function until<T>(url: string, read: (text: string) => T, expected: T): Promise<T> {
  const deadline = Date.now() + 5000;
  let value = read(await scrape(url));
  while (JSON.stringify(value) !== JSON.stringify(expected) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    value = read(await scrape(url));
  }
  await new Promise((resolve) => setTimeout(resolve, 150));
  return read(await scrape(url));
}

const gauge = (text: string): number | undefined => sampleValue(text, 'veza_websocket_connections_active');
const messages = (text: string): Record<string, number | undefined> =>
  Object.fromEntries(
    MESSAGES.flatMap(([event]) =>
      (['success', 'error'] as const).map((status) => [
        `${event} ${status}`,
        sampleValue(text, 'veza_websocket_messages_total', { type: event, status }),
      ]),
    ),
  );

describe.each(ADAPTERS)('WebSocket gateways on %s', (adapter) => {
  describe.each<Transport>(['socket.io', 'ws'])('with the %s adapter', (transport) => {
    let app: INestApplication;
    let url: string;

    beforeAll(async () => {
      ({ app, url } = await startHttpApp(adapter, { imports: [WsAppModule] }, (a) => {
        if (transport === 'ws') a.useWebSocketAdapter(new WsAdapter(a));
      }));
    }, 60_000);

    afterAll(async () => {
      await app?.close();
    });

    it('follows open connections in veza_websocket_connections_active', async () => {
      expect(gauge(await scrape(url))).toBe(0);
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(url, transport)));
      expect(await until(url, gauge, CLIENTS)).toBe(CLIENTS);
      clients[0]?.close();
      expect(await until(url, gauge, CLIENTS - 1)).toBe(CLIENTS - 1);
      for (const c of clients.slice(1)) c.close();
      expect(await until(url, gauge, 0)).toBe(0);
    });

    it('counts every message a @SubscribeMessage() handler took, by event and outcome', async () => {
      const clients = await Promise.all(Array.from({ length: CLIENTS }, () => connect(url, transport)));
      for (const client of clients) {
        for (const [event, times] of MESSAGES) for (let i = 0; i < times; i++) client.send(event, { i });
        // An event no handler subscribes to is no gateway message.
        client.send('unknown', {});
      }
      const expected = Object.fromEntries(
        MESSAGES.flatMap(([event, times, status]) => [
          [`${event} success`, status === 'success' ? times * CLIENTS : undefined],
          [`${event} error`, status === 'error' ? times * CLIENTS : undefined],
        ]),
      );
      expect(await until(url, messages, expected)).toEqual(expected);
      expect(
        sampleValue(await scrape(url), 'veza_websocket_messages_total', { type: 'unknown' }),
      ).toBeUndefined();
      for (const c of clients) c.close();
      expect(await until(url, gauge, 0)).toBe(0);
    });

    it('leaves HTTP recording as it is: the Socket.IO transport is no HTTP request of the app', async () => {
      await fetch(`${url}/ping`);
      const text = await scrape(url);
      expect(
        sampleValue(text, 'veza_http_requests_total', { method: 'GET', endpoint: '/ping', status: '2xx' }),
      ).toBe(1);
      const endpoints = new Set(
        text
          .split('\n')
          .filter((l) => l.startsWith('veza_http_requests_total{'))
          .map((l) => /endpoint="([^"]*)"/.exec(l)?.[1]),
      );
      expect([...endpoints]).toEqual(['/ping']);
    });
  });
});

describe('an application where @nestjs/websockets is not installed', () => {
  it('starts and records HTTP, with nothing of WebSockets hooked', async () => {
    let started: { app: INestApplication; url: string } | undefined;
    let config: { getIoAdapter: unknown } | undefined;
    let prototypeMethod: unknown;
    await jest.isolateModulesAsync(async () => {
      // Not installed: neither the package nor its files resolve (src/compat/nest-websockets.ts
      // tells that from an installed package whose WsProxy moved).
      jest.doMock('@nestjs/websockets', () => {
        throw new Error("Cannot find module '@nestjs/websockets'");
      });
      jest.doMock('@nestjs/websockets/context/ws-proxy.js', () => {
        throw new Error("Cannot find module '@nestjs/websockets/context/ws-proxy.js'");
      });
      const {
        Module: M,
        Controller: C,
        Get: G,
      } = jest.requireActual<typeof import('@nestjs/common')>('@nestjs/common');
      const core = jest.requireActual<typeof import('@nestjs/core')>('@nestjs/core');
      const lib = jest.requireActual<typeof import('../../src')>('../../src');
      const fixture = jest.requireActual<typeof import('./http-app.fixture')>('./http-app.fixture');
      @C('ping')
      class Ping {
        @G()
        ping(): string {
          return 'pong';
        }
      }
      @M({ imports: [lib.VezaMetricsModule.forRoot({ defaultMetrics: false })], controllers: [Ping] })
      class NoWsModule {}
      started = await fixture.startHttpApp('express', { imports: [NoWsModule] }, () => undefined);
      config = started.app.get(core.ApplicationConfig);
      prototypeMethod = core.ApplicationConfig.prototype.getIoAdapter;
    });
    try {
      const { app, url } = started as { app: INestApplication; url: string };
      expect(Object.prototype.hasOwnProperty.call(config, 'getIoAdapter')).toBe(false);
      expect(config?.getIoAdapter).toBe(prototypeMethod);
      expect((await fetch(`${url}/ping`)).status).toBe(200);
      const text = await scrape(url);
      expect(
        sampleValue(text, 'veza_http_requests_total', { method: 'GET', endpoint: '/ping', status: '2xx' }),
      ).toBe(1);
      expect(sampleValue(text, 'veza_websocket_connections_active')).toBe(0);
      await app.close();
    } finally {
      jest.dontMock('@nestjs/websockets/context/ws-proxy.js');
      jest.dontMock('@nestjs/websockets');
    }
  }, 60_000);
});
