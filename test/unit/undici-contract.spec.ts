/**
 * Contract test of src/compat/undici.ts (U1-U4) and src/compat/node-http-client.ts (HC1, HC2):
 * global `fetch` (Node's bundled undici) and `node:http` against a local server, through the very
 * subscriptions the outbound recorder makes. Fails naming the assumption, `process.version` and
 * `process.versions.undici`. (A loopback server: no other package needed, so the Nest 10/11 matrix
 * would not need one either; not named compat-* all the same, as the other integrations' contracts.)
 */
import { channel } from 'node:diagnostics_channel';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { httpClientHost, httpClientMethod, watchHttpClient } from '../../src/compat/node-http-client';
import { until } from '../utils/until';
import { undiciMethod, undiciOrigin, watchUndici, type OutboundHandlers } from '../../src/compat/undici';

const versions = `Node ${process.version} (undici ${process.versions.undici ?? 'unknown'})`;
const broken = (id: string, what: string): string =>
  `${versions} no longer meets ${id} of src/compat/${id.startsWith('HC') ? 'node-http-client' : 'undici'}.ts: ${what}`;

type Event = [kind: 'start' | 'response' | 'failure', request: object, status?: number];

function recorder(): { handlers: OutboundHandlers; events: Event[] } {
  const events: Event[] = [];
  return {
    events,
    handlers: {
      start: (request) => events.push(['start', request]),
      response: (request, status) => events.push(['response', request, status]),
      failure: (request) => events.push(['failure', request]),
    },
  };
}

let server: Server;
let base: string;
let port: number;
let closedPort: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/hold') return;
    if (req.url === '/cut') {
      res.writeHead(200, { 'content-length': '100' });
      res.write('partial');
      setImmediate(() => res.destroy());
      return;
    }
    res.statusCode = req.url === '/fail' ? 503 : 200;
    res.end('x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  base = `http://127.0.0.1:${port}`;
  const other = createServer();
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
  closedPort = (other.address() as AddressInfo).port;
  await new Promise<void>((resolve) => other.close(() => resolve()));
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function nodeGet(url: string, timeoutMs?: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const req = httpRequest(url, { agent: false }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', () => resolve());
    });
    if (timeoutMs !== undefined) req.setTimeout(timeoutMs, () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve());
    req.end();
  });
}

async function fetchGet(url: string, init?: RequestInit): Promise<void> {
  try {
    await (await fetch(url, init)).text();
  } catch {
    // what failed is what the test looks at
  }
}

describe(`undici's diagnostics channels (${versions})`, () => {
  let stop: () => void;
  let seen: ReturnType<typeof recorder>;
  beforeEach(() => {
    seen = recorder();
    stop = watchUndici(seen.handlers);
  });
  afterEach(() => stop());

  it('U1, U3: one create then one headers per request, on the same object, with origin, method and status', async () => {
    await fetchGet(`${base}/fail`, { method: 'POST', body: 'a' });
    const kinds = seen.events.map(([k, , s]) => (s === undefined ? k : `${k} ${s}`));
    expect({ kinds, id: broken('U1', 'create then headers') }).toEqual({
      kinds: ['start', 'response 503'],
      id: broken('U1', 'create then headers'),
    });
    const request = seen.events[0][1];
    expect(seen.events[1][1]).toBe(request);
    expect({
      origin: undiciOrigin(request),
      method: undiciMethod(request),
      id: broken('U3', 'origin, method'),
    }).toEqual({ origin: base, method: 'POST', id: broken('U3', 'origin, method') });
  });

  it('U1: a refused connection and an abort publish create then error, once', async () => {
    await fetchGet(`http://127.0.0.1:${closedPort}/`);
    const aborted = new AbortController();
    const pending = fetchGet(`${base}/hold`, { signal: aborted.signal });
    while (seen.events.length < 3) await new Promise((resolve) => setImmediate(resolve));
    aborted.abort();
    await pending;
    // Node 22 and 24: fetch rejects at the abort, undici publishes the request's error a moment later.
    await until(() => seen.events.length >= 4, "the aborted request's error", 5_000).catch(() => undefined);
    expect({ kinds: seen.events.map(([k]) => k), id: broken('U1', 'create then error') }).toEqual({
      kinds: ['start', 'failure', 'start', 'failure'],
      id: broken('U1', 'create then error'),
    });
  });

  it('U2: an error after the headers (a body cut) comes after the response, on the same request', async () => {
    await fetchGet(`${base}/cut`);
    const kinds = seen.events.map(([k]) => k);
    expect({ kinds, id: broken('U2', 'error after headers') }).toEqual({
      kinds: ['start', 'response', 'failure'],
      id: broken('U2', 'error after headers'),
    });
  });

  it('U4: a node:http request publishes nothing on undici’s channels', async () => {
    await nodeGet(`${base}/`);
    expect({ events: seen.events.length, id: broken('U4', 'node:http through undici') }).toEqual({
      events: 0,
      id: broken('U4', 'node:http through undici'),
    });
  });

  it('U5: the channels listened to stay referenced after the last unsubscribe, the very objects channel(name) gives', () => {
    const stop = watchUndici({ start: () => undefined, response: () => undefined, failure: () => undefined });
    stop();
    const kept = (globalThis as Record<symbol, Map<string, object> | undefined>)[
      Symbol.for('@veza/nestjs-metrics:diagnostics-channels')
    ];
    const names = ['undici:request:create', 'undici:request:headers', 'undici:request:error'];
    expect(names.map((name) => kept?.get(name) === channel(name))).toEqual([true, true, true]);
  });
});

describe(`Node's HTTP client channels (${versions})`, () => {
  let stop: () => void;
  let seen: ReturnType<typeof recorder>;
  beforeEach(() => {
    seen = recorder();
    stop = watchHttpClient(seen.handlers);
  });
  afterEach(() => stop());

  it('HC1: start then response finish (at the head) on the same request; refused and timed out: start then error', async () => {
    await nodeGet(`${base}/fail`);
    await nodeGet(`http://127.0.0.1:${closedPort}/`);
    await nodeGet(`${base}/hold`, 20);
    const kinds = seen.events.map(([k, , s]) => (s === undefined ? k : `${k} ${s}`));
    expect({ kinds, id: broken('HC1', 'start, then response or error') }).toEqual({
      kinds: ['start', 'response 503', 'start', 'failure', 'start', 'failure'],
      id: broken('HC1', 'start, then response or error'),
    });
    expect(seen.events[1][1]).toBe(seen.events[0][1]);
  });

  it('HC1: the start is published at end(), so a mark set right after http.request() is seen', async () => {
    const marked = new WeakSet<object>();
    const req = httpRequest(`${base}/`, { agent: false });
    marked.add(req);
    const done = new Promise<void>((resolve) => req.on('response', (res) => res.resume().on('end', resolve)));
    expect(seen.events).toEqual([]);
    req.end();
    await done;
    expect({ marked: marked.has(seen.events[0][1]), id: broken('HC1', 'start before end()') }).toEqual({
      marked: true,
      id: broken('HC1', 'start before end()'),
    });
  });

  it('HC2: the Host header Node writes is host:port, without the default port; fetch does not publish here (U4)', async () => {
    await nodeGet(`${base}/`);
    await fetchGet(`${base}/`);
    const request = seen.events[0][1];
    expect({
      host: httpClientHost(request),
      method: httpClientMethod(request),
      events: seen.events.length,
      id: broken('HC2', 'Host header'),
    }).toEqual({ host: `127.0.0.1:${port}`, method: 'GET', events: 2, id: broken('HC2', 'Host header') });
    const plain = httpRequest('http://example.invalid/', { agent: false }).on('error', () => undefined);
    const tls = httpRequest('http://example.invalid:443/', { agent: false }).on('error', () => undefined);
    expect([plain.getHeader('host'), tls.getHeader('host')]).toEqual([
      'example.invalid',
      'example.invalid:443',
    ]);
    plain.destroy();
    tls.destroy();
  });
});
