/**
 * Contract tests of src/compat/nest-websockets.ts: each assumption (W1, W2) it makes of
 * @nestjs/websockets, by its name, against the installed version, on a real gateway over the ws
 * adapter. A failure says which assumption broke and on which version.
 */
import { Module, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { WsAdapter } from '@nestjs/platform-ws';
import { MessageBody, SubscribeMessage, WebSocketGateway } from '@nestjs/websockets';
import WebSocket from 'ws';
import {
  nestWebsocketsVersion,
  wrapGatewayHandlers,
  type GatewayHandler,
} from '../../src/compat/nest-websockets';

/** Fails with the assumption's name and the installed @nestjs/websockets' version. */
function holds(assumption: string, ok: boolean, detail: string): void {
  if (!ok)
    throw new Error(
      `${nestWebsocketsVersion()} no longer meets ${assumption} of src/compat/nest-websockets.ts: ${detail}`,
    );
}

jest.setTimeout(60_000);

@WebSocketGateway()
class EchoGateway {
  @SubscribeMessage('echo')
  echo(@MessageBody() data: string): { event: string; data: string } {
    return { event: 'echoed', data };
  }
}

@Module({ providers: [EchoGateway] })
class GatewayModule {}

/** What the wrapper saw: the event of each handler Nest built, and the first argument and result of each call. */
const built: string[] = [];
const calls: Array<{ event: string; client: unknown; result: unknown }> = [];

describe(`src/compat/nest-websockets.ts: what we assume of @nestjs/websockets (${nestWebsocketsVersion()})`, () => {
  let app: INestApplication;
  let url: string;
  const serverClients: unknown[] = [];

  beforeAll(async () => {
    const result = wrapGatewayHandlers((target: GatewayHandler, event) => {
      built.push(event);
      return function (this: unknown, ...args: unknown[]): unknown {
        const value = target.apply(this, args);
        calls.push({ event, client: args[0], result: value });
        return value;
      };
    });
    holds('W1', result === 'wrapped', `WsProxy#create could not be wrapped (${result})`);
    app = await NestFactory.create(GatewayModule, { logger: false });
    const adapter = new WsAdapter(app);
    const bind = adapter.bindClientConnect.bind(adapter);
    adapter.bindClientConnect = (server: unknown, callback: (...args: unknown[]) => unknown) =>
      bind(server, (...args: unknown[]) => {
        serverClients.push(args[0]);
        return callback(...args);
      });
    app.useWebSocketAdapter(adapter);
    await app.listen(0, '127.0.0.1');
    url = (await app.getUrl()).replace('http', 'ws').replace('[::1]', '127.0.0.1');
  });

  afterAll(async () => {
    await app?.close();
  });

  it('W1, W2: each @SubscribeMessage() handler is built through WsProxy#create with its event; its calls get the client first', async () => {
    holds('W1', built.includes('echo'), `the handlers built were ${JSON.stringify(built)}, not 'echo'`);
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const reply = new Promise<string>((resolve) =>
      ws.once('message', (data: Buffer) => resolve(data.toString('utf8'))),
    );
    ws.send(JSON.stringify({ event: 'echo', data: 'hi' }));
    expect(JSON.parse(await reply)).toEqual({ event: 'echoed', data: 'hi' });
    ws.close();
    holds('W2', serverClients.length === 1, `bindClientConnect's callback ran ${serverClients.length} times`);
    const call = calls.find((c) => c.event === 'echo');
    holds('W1', call !== undefined, 'the handler Nest built was not the one the wrapper returned');
    holds(
      'W1',
      call?.client === serverClients[0],
      "the handler's first argument is not the connected client (W2)",
    );
  });

  it('W1 fallback: installed, but WsProxy moved: "changed"; not installed: "absent"', () => {
    const moved = (id: string): unknown => {
      if (id === '@nestjs/websockets') return {};
      throw new Error(`Cannot find module '${id}'`);
    };
    expect(wrapGatewayHandlers((t) => t, moved)).toBe('changed');
    expect(
      wrapGatewayHandlers(
        (t) => t,
        (id) => (id === '@nestjs/websockets' ? {} : { WsProxy: {} }),
      ),
    ).toBe('changed');
    expect(
      wrapGatewayHandlers(
        (t) => t,
        (id) => {
          throw new Error(`Cannot find module '${id}'`);
        },
      ),
    ).toBe('absent');
  });
});
