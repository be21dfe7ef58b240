/**
 * Issue 23 item 4: outbound HTTP requests counted with no code in the application, from global
 * `fetch` (undici's diagnostics channels), `node:http` and axios through `@nestjs/axios` (Node's),
 * against a real local server, in real Nest applications on Express and Fastify.
 */
import { HttpModule, HttpService } from '@nestjs/axios';
import { Controller, Get, Module, type INestApplication } from '@nestjs/common';
import { hasSubscribers } from 'node:diagnostics_channel';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { firstValueFrom } from 'rxjs';
import {
  MetricsPusher,
  NO_RESPONSE_STATUS,
  OTHER_HOST,
  OutboundMetric,
  VezaMetricsModule,
  type VezaMetricsModuleOptions,
} from '../../src';
import { outboundHubState } from '../../src/outbound/outbound-hub';
import { ADAPTERS, scrape, startApp, type AdapterKind, type StartedApp } from '../utils/app';
import { parseExposition, sampleValue } from '../utils/exposition';
import { rawRequest } from '../utils/raw-http';

const REQUESTS = OutboundMetric.Requests;
const DURATION = OutboundMetric.Duration;
const CHANNELS = ['undici:request:create', 'http.client.request.start', 'http.client.response.finish'];

/** The local server the applications call: `/ok` 200, `/fail` 503, `/hold` answers never (until closed). */
interface Target {
  url: string;
  host: string;
  /** Resolves at the next request to `/hold`. */
  held(): Promise<void>;
  close(): Promise<void>;
}

async function startTarget(): Promise<Target> {
  let onHold: () => void = () => undefined;
  const server: Server = createServer((req, res) => {
    if (req.url === '/hold') {
      onHold();
      return;
    }
    res.statusCode = req.url === '/fail' ? 503 : 200;
    res.end(req.url === '/fail' ? 'down' : 'up');
  });
  // Idle keep-alive sockets stay open for the whole file: a reused socket the server had just closed would fail.
  server.keepAliveTimeout = 600_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    held: () => new Promise<void>((resolve) => (onHold = resolve)),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nothing listens on (a server's, closed). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `GET url` with `node:http`: the status and body, or the error's name and code. */
function nodeGet(
  url: string,
  options: { headers?: Record<string, string>; timeoutMs?: number } = {},
): Promise<string> {
  return new Promise<string>((resolve) => {
    const req = httpRequest(url, { headers: options.headers, agent: false }, (res: IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    });
    if (options.timeoutMs !== undefined)
      req.setTimeout(options.timeoutMs, () => req.destroy(new Error('timed out')));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(`error ${e.name} ${e.code ?? e.message}`));
    req.end();
  });
}

/** What `fetch` gave: the status and body, or the error's name and its cause's code. */
async function fetchGet(url: string, init?: RequestInit): Promise<string> {
  try {
    const res = await fetch(url, init);
    return `${res.status} ${await res.text()}`;
  } catch (error) {
    const e = error as Error & { cause?: { code?: string } };
    return `error ${e.name} ${e.cause?.code ?? ''}`;
  }
}

/** The calls an application makes, given the target (set by each test before it calls `/call`). */
const calls = {
  target: undefined as unknown as Target,
  refused: 0,
};

@Controller()
class CallController {
  constructor(private readonly http: HttpService) {}

  private async axiosGet(url: string, timeout?: number): Promise<string> {
    try {
      const res = await firstValueFrom(this.http.get<string>(url, { timeout, responseType: 'text' }));
      return `${res.status} ${res.data}`;
    } catch (error) {
      const e = error as { name?: string; code?: string; response?: { status?: number; data?: string } };
      return `error ${e.name} ${e.code} ${e.response?.status ?? ''} ${e.response?.data ?? ''}`;
    }
  }

  /** 3 outbound 200s and 2 outbound 503s: fetch, node:http and axios. */
  @Get('call')
  async call(): Promise<string[]> {
    const { url } = calls.target;
    return [
      await fetchGet(`${url}/ok`),
      await nodeGet(`${url}/ok`),
      await this.axiosGet(`${url}/ok`),
      await fetchGet(`${url}/fail`),
      await this.axiosGet(`${url}/fail`),
    ];
  }

  /** No response: refused (fetch, node:http, axios), a node:http and an axios timeout, a fetch abort, a DNS failure. */
  @Get('fail')
  async fail(): Promise<string[]> {
    const { url } = calls.target;
    const refused = `http://127.0.0.1:${calls.refused}/`;
    const aborted = new AbortController();
    const held = calls.target.held();
    const abort = fetchGet(`${url}/hold`, { signal: aborted.signal });
    await held;
    aborted.abort();
    return [
      await fetchGet(refused),
      await nodeGet(refused),
      await this.axiosGet(refused),
      await nodeGet(`${url}/hold`, { timeoutMs: 50 }),
      await this.axiosGet(`${url}/hold`, 50),
      await abort,
    ];
  }
}

function appModule(options: VezaMetricsModuleOptions): new () => unknown {
  @Module({ imports: [HttpModule, VezaMetricsModule.forRoot(options)], controllers: [CallController] })
  class AppModule {}
  return AppModule;
}

async function start(kind: AdapterKind, options: VezaMetricsModuleOptions = {}): Promise<StartedApp> {
  return startApp(kind, { imports: [appModule({ defaultMetrics: false, ...options })] });
}

async function get(started: StartedApp, path: string): Promise<string[]> {
  const res = await rawRequest(started.url, path);
  if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${res.body}`);
  return JSON.parse(res.body) as string[];
}

/** The `veza_http_client_*` lines of the exposition, sorted (HELP and TYPE left out). */
function outboundLines(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => l.startsWith('veza_http_client_') && !l.includes('_bucket{'))
    .map((l) => l.replace(/_sum(\{[^}]*\}) [0-9.e-]+$/, '_sum$1 <seconds>'))
    .sort();
}

let target: Target;
const apps: INestApplication[] = [];

beforeAll(async () => {
  target = await startTarget();
  calls.target = target;
  calls.refused = await closedPort();
});

afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
});

afterAll(async () => {
  await target.close();
});

async function started(kind: AdapterKind, options?: VezaMetricsModuleOptions): Promise<StartedApp> {
  const s = await start(kind, options);
  apps.push(s.app);
  return s;
}

describe.each(ADAPTERS)('outbound HTTP on %s', (kind) => {
  it('counts 3 outbound 200s and 2 outbound 503s from fetch, node:http and axios, exactly, with the responses unchanged', async () => {
    const app = await started(kind);
    expect(await get(app, '/call')).toEqual([
      '200 up',
      '200 up',
      '200 up',
      '503 down',
      'error AxiosError ERR_BAD_RESPONSE 503 down',
    ]);
    const text = await scrape(app.url);
    const h = target.host;
    expect(outboundLines(text)).toEqual(
      [
        `veza_http_client_requests_total{method="GET",host="${h}",status="2xx"} 3`,
        `veza_http_client_requests_total{method="GET",host="${h}",status="5xx"} 2`,
        `veza_http_client_request_duration_seconds_sum{method="GET",host="${h}"} <seconds>`,
        `veza_http_client_request_duration_seconds_count{method="GET",host="${h}"} 5`,
      ].sort(),
    );
    expect(sampleValue(text, `${DURATION}_bucket`, { host: h, le: '+Inf' })).toBe(5);
  });

  it('names hosts (outbound.hosts), and the status as the code under statusLabel: code', async () => {
    const app = await started(kind, {
      statusLabel: 'code',
      outbound: { hosts: { '127.0.0.1': 'backend' } },
    });
    await get(app, '/call');
    const text = await scrape(app.url);
    expect(sampleValue(text, REQUESTS, { method: 'GET', host: 'backend', status: '200' })).toBe(3);
    expect(sampleValue(text, REQUESTS, { method: 'GET', host: 'backend', status: '503' })).toBe(2);
    expect(sampleValue(text, `${DURATION}_count`, { host: 'backend' })).toBe(5);
    expect(text).not.toContain(`host="${target.host}"`);
  });

  it(`counts refused connections, timeouts and aborts as status="${NO_RESPONSE_STATUS}", the app seeing the same errors`, async () => {
    const app = await started(kind);
    const seen = await get(app, '/fail');
    const bare = await started(kind, { outbound: false });
    expect(await get(bare, '/fail')).toEqual(seen);
    expect(seen).toEqual([
      'error TypeError ECONNREFUSED',
      'error Error ECONNREFUSED',
      'error Error ECONNREFUSED  ',
      'error Error timed out',
      'error AxiosError ECONNABORTED  ',
      'error AbortError ',
    ]);
    const text = await scrape(app.url);
    const refused = `127.0.0.1:${calls.refused}`;
    // Each app counts the process's requests: the first app saw the second's too.
    expect(sampleValue(text, REQUESTS, { host: refused, status: NO_RESPONSE_STATUS })).toBe(6);
    expect(sampleValue(text, REQUESTS, { host: target.host, status: NO_RESPONSE_STATUS })).toBe(6);
    expect(sampleValue(text, `${DURATION}_count`, { host: refused })).toBe(6);
    expect(parseExposition(await scrape(bare.url)).has(REQUESTS)).toBe(false);
  });
});

describe('outbound HTTP: bounds and what is not counted', () => {
  it('takes at most maxHosts hosts; the others (hostile Host headers, long and reserved ones) are <other>', async () => {
    const app = await started('express', { outbound: { maxHosts: 3 } });
    const hosts = [
      OTHER_HOST,
      ...Array.from({ length: 9 }, (_, i) => `h${i}.example`),
      'x'.repeat(10_000),
      'h0.example',
    ];
    for (const host of hosts) expect(await nodeGet(`${target.url}/ok`, { headers: { host } })).toBe('200 up');
    const text = await scrape(app.url);
    const families = parseExposition(text);
    const series = families.get(REQUESTS)?.samples.map((s) => `${s.labels.host} ${s.value}`);
    expect(series?.sort()).toEqual(['\\<other> 1', '<other> 8', 'h0.example 2', 'h1.example 1'].sort());
    expect(families.get(`${DURATION}`)?.samples.filter((s) => s.name.endsWith('_count')).length).toBe(4);
  });

  it("does not count the app's own /metrics nor its Pushgateway pushes", async () => {
    const gateway = createServer((req, res) => req.resume().once('end', () => res.writeHead(202).end()));
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const { port } = gateway.address() as AddressInfo;
    try {
      const app = await started('fastify', {
        pushgateway: { url: `http://127.0.0.1:${port}`, jobName: 'outbound', pushOnShutdown: false },
      });
      expect(await app.app.get(MetricsPusher).push()).toBe(true);
      expect(await app.app.get(MetricsPusher).push()).toBe(true);
      for (let i = 0; i < 3; i++) expect((await fetch(`${app.url}/metrics`)).status).toBe(200);
      expect(parseExposition(await scrape(app.url)).has(REQUESTS)).toBe(false);
      // The same server called by the application's own code is counted.
      expect(await nodeGet(`http://127.0.0.1:${port}/`)).toBe('202 ');
      expect(sampleValue(await scrape(app.url), REQUESTS, { host: `127.0.0.1:${port}` })).toBe(1);
    } finally {
      gateway.closeAllConnections();
      await new Promise<void>((resolve) => gateway.close(() => resolve()));
    }
  });

  it('outbound: false subscribes to nothing; the channels are left when the last app closes', async () => {
    expect(outboundHubState()).toEqual({ sinks: 0, subscribed: false });
    const off = await started('express', { outbound: false });
    expect(CHANNELS.map((c) => hasSubscribers(c))).toEqual([false, false, false]);
    expect(await get(off, '/call')).toHaveLength(5);
    expect(parseExposition(await scrape(off.url)).has(REQUESTS)).toBe(false);
    const on = await started('express');
    expect(CHANNELS.map((c) => hasSubscribers(c))).toEqual([true, true, true]);
    await on.app.close();
    apps.splice(apps.indexOf(on.app), 1);
    expect(CHANNELS.map((c) => hasSubscribers(c))).toEqual([false, false, false]);
    expect(outboundHubState()).toEqual({ sinks: 0, subscribed: false });
  });

  it('20 apps started and closed one after another leave no listener; three live apps each count a request once', async () => {
    for (let i = 0; i < 20; i++) {
      const s = await start('express');
      await s.app.close();
    }
    expect(outboundHubState()).toEqual({ sinks: 0, subscribed: false });
    const three = [await started('express'), await started('fastify'), await started('express')];
    expect(outboundHubState()).toEqual({ sinks: 3, subscribed: true });
    expect(await fetchGet(`${target.url}/ok`)).toBe('200 up');
    for (const s of three)
      expect(sampleValue(await scrape(s.url), REQUESTS, { host: target.host, status: '2xx' })).toBe(1);
  });
});
