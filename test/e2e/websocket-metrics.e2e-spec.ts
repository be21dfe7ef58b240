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
import { nestWebsocketsVersion } from '../../src/compat/nest-websockets';
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

describe('an application whose @nestjs/websockets keeps WsProxy elsewhere (W1 of src/compat/nest-websockets.ts broken)', () => {
  it('still counts connections, and says once that messages are not counted', async () => {
    let started: { app: INestApplication; url: string } | undefined;
    const warnings: string[] = [];
    await jest.isolateModulesAsync(async () => {
      // A release that moved WsProxy: the seam no longer finds it where W1 says (Nest's own gateways,
      // which import it by a relative path, still work).
      jest.doMock('../../src/compat/nest-websockets', () => {
        const real = jest.requireActual<typeof import('../../src/compat/nest-websockets')>(
          '../../src/compat/nest-websockets',
        );
        const moved = (id: string): unknown => {
          if (id === '@nestjs/websockets/context/ws-proxy.js') throw new Error(`Cannot find module '${id}'`);
          return jest.requireActual(id);
        };
        return { ...real, wrapGatewayHandlers: (wrap: never) => real.wrapGatewayHandlers(wrap, moved) };
      });
      const common = jest.requireActual<typeof import('@nestjs/common')>('@nestjs/common');
      const websockets = jest.requireActual<typeof import('@nestjs/websockets')>('@nestjs/websockets');
      const lib = jest.requireActual<typeof import('../../src')>('../../src');
      const fixture = jest.requireActual<typeof import('./http-app.fixture')>('./http-app.fixture');
      const platformWs = jest.requireActual<typeof import('@nestjs/platform-ws')>('@nestjs/platform-ws');
      jest.spyOn(common.Logger.prototype, 'warn').mockImplementation((message: unknown) => {
        warnings.push(String(message));
      });
      @websockets.WebSocketGateway()
      class Chat {
        @websockets.SubscribeMessage('hello')
        hello(): string {
          return 'hi';
        }
      }
      @common.Module({
        imports: [lib.VezaMetricsModule.forRoot({ defaultMetrics: false })],
        providers: [Chat],
      })
      class MovedProxyModule {}
      started = await fixture.startHttpApp('express', { imports: [MovedProxyModule] }, (a) =>
        a.useWebSocketAdapter(new platformWs.WsAdapter(a)),
      );
    });
    const { app, url } = started as { app: INestApplication; url: string };
    try {
      const client = await connect(url, 'ws');
      expect(await until(url, gauge, 1)).toBe(1);
      client.send('hello', {});
      client.close();
      expect(await until(url, gauge, 0)).toBe(0);
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_websocket_messages_total', { type: 'hello', status: 'success' })).toBe(
        undefined,
      );
      expect(warnings.filter((w) => w.includes('WsProxy#create'))).toEqual([
        `${nestWebsocketsVersion()}: WsProxy#create (assumption W1 of src/compat/nest-websockets.ts) could not be wrapped, so veza_websocket_messages_total is not counted (@CountWebSocketMessage() still counts). Use a @nestjs/websockets version the library supports (10 to 12).`,
      ]);
    } finally {
      await app.close();
      jest.restoreAllMocks();
      jest.dontMock('../../src/compat/nest-websockets');
    }
  }, 60_000);
});
