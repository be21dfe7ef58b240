/**
 * Contract tests of src/compat/node-http.ts: each assumption it makes of `node:http`'s
 * `ServerResponse` beyond its documented API, by its name, against the running Node. A failure here
 * names the assumption that broke and `process.version`.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import { inject } from 'light-my-request';
import {
  connect as connectHttp2,
  constants as http2Constants,
  createServer as createHttp2Server,
} from 'node:http2';
import type { Http2ServerResponse } from 'node:http2';
import { handedOver, http2Delivered, nodeVersion, responseEnded } from '../../src/compat/node-http';

const against = `node ${process.version}`;

interface Fields {
  finished?: unknown;
  outputSize?: unknown;
}

/** A server on a free port whose requests `handle` answers. */
async function listen(handle: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  const server = createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

async function close(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 600 && !done(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(done()).toBe(true);
}

/** A raw connection to `server` that sends `requests` at once (pipelined). */
async function send(server: Server, requests: string): Promise<Socket> {
  const { port } = server.address() as { port: number };
  const socket = connect(port, '127.0.0.1');
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  socket.write(requests);
  return socket;
}

const GET = (path: string): string => `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;

describe(`node:http assumptions (${against})`, () => {
  it(`H1: a response's own boolean "finished" is false until end() and true after, as writableEnded reads (${against})`, async () => {
    const seen: Array<[unknown, boolean]> = [];
    const server = await listen((_req, res) => {
      seen.push([Object.getOwnPropertyDescriptor(res, 'finished')?.value, res.writableEnded]);
      res.end('ok');
      seen.push([Object.getOwnPropertyDescriptor(res, 'finished')?.value, res.writableEnded]);
      seen.push([responseEnded(res), res.writableEnded]);
    });
    try {
      expect(
        await (await fetch(`http://127.0.0.1:${(server.address() as { port: number }).port}/`)).text(),
      ).toBe('ok');
      expect(seen).toEqual([
        [false, false],
        [true, true],
        [true, true],
      ]);
    } finally {
      await close(server);
    }
  }, 60_000);

  it(`H1, H2: a response queued behind another of its connection has no socket and is not ended; ended, it holds its bytes (outputSize > 0) until it gets the socket, then outputSize is 0 (${against})`, async () => {
    const responses: ServerResponse[] = [];
    const atStart: Array<{ socket: unknown; finished: unknown; ended: boolean }> = [];
    const atEnd: Array<{ outputSize: unknown; handedOver: boolean }> = [];
    const atClose: Array<{ outputSize: unknown; handedOver: boolean }> = [];
    const server = await listen((_req, res) => {
      responses.push(res);
      atStart.push({ socket: res.socket, finished: (res as Fields).finished, ended: responseEnded(res) });
      res.on('close', () =>
        atClose.push({ outputSize: (res as Fields).outputSize, handedOver: handedOver(res) }),
      );
    });
    const socket = await send(server, GET('/first') + GET('/second'));
    try {
      await until(() => responses.length === 2);
      expect(atStart[1]).toEqual({ socket: null, finished: false, ended: false });
      responses[1].end('second');
      atEnd.push({ outputSize: (responses[1] as Fields).outputSize, handedOver: handedOver(responses[1]) });
      expect(typeof atEnd[0].outputSize).toBe('number');
      expect(atEnd[0].outputSize as number).toBeGreaterThan(0);
      expect(atEnd[0].handedOver).toBe(false);
      responses[0].end('first');
      await until(() => atClose.length === 2);
      expect(atClose).toEqual([
        { outputSize: 0, handedOver: true },
        { outputSize: 0, handedOver: true },
      ]);
    } finally {
      socket.destroy();
      await close(server);
    }
  }, 60_000);

  it(`H1, H2: at the close of a response whose client went away before it was ended, it reads as not handed over (${against})`, async () => {
    let started: ServerResponse | undefined;
    const atClose: boolean[] = [];
    const server = await listen((_req, res) => {
      started = res;
      res.on('close', () => atClose.push(handedOver(res)));
    });
    const socket = await send(server, GET('/gone'));
    try {
      await until(() => started !== undefined);
      socket.destroy();
      await until(() => atClose.length === 1);
      expect(atClose).toEqual([false]);
      expect((started as Fields).finished).toBe(false);
    } finally {
      await close(server);
    }
  }, 60_000);

  it(`H2: a response handed in full to light-my-request's mock socket has outputSize 0 at its close, while writableFinished is still false (${against})`, async () => {
    const atClose: Array<{ outputSize: unknown; handedOver: boolean; writableFinished: boolean }> = [];
    const response = await inject(
      (_req, res) => {
        res.on('close', () =>
          atClose.push({
            outputSize: (res as Fields).outputSize,
            handedOver: handedOver(res),
            writableFinished: res.writableFinished,
          }),
        );
        res.end('mocked');
      },
      { method: 'GET', url: '/mocked' },
    );
    expect(response.payload).toBe('mocked');
    expect(atClose).toEqual([{ outputSize: 0, handedOver: true, writableFinished: false }]);
  }, 60_000);

  it(`H3: an HTTP/2 response whose stream the client cancels emits finish and close, not ended, with a non-zero rstCode; one answered in full is delivered (${against})`, async () => {
    const seen: { events: string[]; res: Http2ServerResponse }[] = [];
    const server = createHttp2Server((req, res) => {
      const entry = { events: [] as string[], res };
      seen.push(entry);
      res.on('finish', () => entry.events.push('finish'));
      res.on('close', () => entry.events.push('close'));
      if (req.url === '/answer') res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const client = connectHttp2(`http://127.0.0.1:${port}`);
    try {
      const answered = client.request({ ':path': '/answer' });
      answered.resume();
      await new Promise((resolve) => answered.on('close', resolve));
      const cancelled = client.request({ ':path': '/held' });
      cancelled.on('error', () => undefined);
      await until(() => seen.length === 2);
      cancelled.close(http2Constants.NGHTTP2_CANCEL);
      await until(() => seen[1].events.includes('close'));
      const [ok, gone] = seen;
      await until(() => ok.events.includes('close'));
      if (!ok.events.includes('finish') || !http2Delivered(ok.res))
        throw new Error(
          `${against} no longer meets H3: a response answered in full reads ${JSON.stringify(ok.events)}, delivered ${http2Delivered(ok.res)}`,
        );
      const held = {
        events: gone.events,
        writableEnded: gone.res.writableEnded,
        rstCode: gone.res.stream?.rstCode,
      };
      expect(held).toEqual({
        events: ['finish', 'close'],
        writableEnded: false,
        rstCode: http2Constants.NGHTTP2_CANCEL,
      });
      expect(http2Delivered(gone.res)).toBe(false);
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it(`fallback: without the two fields, a response reads as ended and handed over when writableEnded says so (${against})`, () => {
    const ended = { writableEnded: true } as unknown as ServerResponse;
    const open = { writableEnded: false } as unknown as ServerResponse;
    expect([responseEnded(ended), handedOver(ended), responseEnded(open), handedOver(open)]).toEqual([
      true,
      true,
      false,
      false,
    ]);
    const noSize = { finished: true, writableEnded: false } as unknown as ServerResponse;
    expect(handedOver(noSize)).toBe(false);
  });

  it(`names the running Node in messages (${against})`, () => {
    expect(nodeVersion()).toBe(process.version);
  });
});
