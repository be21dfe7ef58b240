import { Controller, Get, type INestApplication } from '@nestjs/common';
import { MetricsServer, VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { ADAPTERS, startApp, type AdapterKind } from '../utils/app';
import { rawRequest, type RawResponse } from '../utils/raw-http';

const TOKEN = 's3cr3t-t0ken';
const USER = 'prometheus';
const PASSWORD = 'p@ss:word';
const basic = (credentials: string): string => `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;

@Controller('tracks')
class TracksController {
  @Get()
  list(): string[] {
    return [];
  }
}

/** Metrics content in a response: what a bypass would leak. */
const leaks = (res: RawResponse): boolean =>
  res.status === 200 && res.body.includes('veza_http_requests_total');

/** Sends every attempt; returns the names of those that got metrics. A connection the server drops leaks nothing. */
async function leakedAttempts(url: string, attempts: ReturnType<typeof bypassAttempts>): Promise<string[]> {
  const leaked: string[] = [];
  for (const attempt of attempts) {
    const res = await rawRequest(url, attempt.path, {
      method: attempt.method,
      headers: attempt.headers,
    }).catch(() => undefined);
    if (res && leaks(res)) leaked.push(attempt.name);
  }
  return leaked;
}

/** Requests that must never get the metrics without valid credentials: paths, methods and headers. */
function bypassAttempts(
  path: string,
): Array<{ name: string; path: string; method?: string; headers?: Record<string, string> }> {
  const tail = path.slice(1);
  const pathVariants = [
    `${path}/`,
    `/.${path}`,
    `/${path}`,
    `//${tail}/`,
    path.toUpperCase(),
    `/${tail[0]?.toUpperCase() ?? ''}${tail.slice(1)}`,
    `/%${tail.charCodeAt(0).toString(16)}${tail.slice(1)}`,
    `/%${tail.charCodeAt(0).toString(16).toUpperCase()}${tail.slice(1)}`,
    `${path}%2f`,
    `${path}%2F`,
    `${path};`,
    `${path};jsessionid=1`,
    `${path};.css`,
    `${path}?`,
    `${path}?auth=${TOKEN}`,
    `${path}?access_token=${TOKEN}`,
    `${path}#`,
    `${path}/.`,
    `${path}/..`,
    `/x/..${path}`,
    `/x/%2e%2e${path}`,
    `${path}%00`,
    `${path}%20`,
    `${path}.json`,
    `${path}.txt`,
    `/api${path}`,
    `/api/..${path}`,
    `/v1${path}`,
    `${path}/x`,
    `\\${tail}`,
    `/%2f${tail}`,
    `/.%2e${path}`,
  ];
  const attempts: Array<{ name: string; path: string; method?: string; headers?: Record<string, string> }> =
    pathVariants.map((p) => ({
      name: `path ${p}`,
      path: p,
    }));
  for (const method of ['GET', 'HEAD', 'POST', 'OPTIONS', 'PUT', 'DELETE', 'PATCH']) {
    attempts.push({ name: `${method} without credentials`, path, method });
  }
  const headerCases: Record<string, Record<string, string>> = {
    'spoofed X-Forwarded-For': { 'X-Forwarded-For': '127.0.0.1' },
    'spoofed X-Real-IP': { 'X-Real-IP': '127.0.0.1' },
    'spoofed Forwarded': { Forwarded: 'for=127.0.0.1' },
    'X-Original-URL rewrite': { 'X-Original-URL': path },
    'X-Rewrite-URL rewrite': { 'X-Rewrite-URL': path },
    'X-HTTP-Method-Override': { 'X-HTTP-Method-Override': 'GET' },
    'empty Authorization': { Authorization: '' },
    'scheme only': { Authorization: 'Bearer' },
    'scheme and space': { Authorization: 'Bearer ' },
    'wrong token': { Authorization: 'Bearer wrong' },
    'token prefix': { Authorization: `Bearer ${TOKEN.slice(0, -1)}` },
    'token with suffix': { Authorization: `Bearer ${TOKEN}x` },
    'token and junk': { Authorization: `Bearer ${TOKEN} junk` },
    'token without scheme': { Authorization: TOKEN },
    'unknown scheme': { Authorization: `Token ${TOKEN}` },
    'token in a cookie': { Cookie: `token=${TOKEN}` },
    'token in X-Auth-Token': { 'X-Auth-Token': TOKEN },
    'basic without password': { Authorization: basic(USER) },
    'basic with wrong password': { Authorization: basic(`${USER}:wrong`) },
    'basic with wrong user': { Authorization: basic(`root:${PASSWORD}`) },
    'basic with empty credentials': { Authorization: basic(':') },
    'basic, not base64': { Authorization: 'Basic !!!not-base64!!!' },
    'basic with the token': { Authorization: basic(TOKEN) },
    'bearer with basic credentials': {
      Authorization: `Bearer ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`,
    },
    'very long token': { Authorization: `Bearer ${'a'.repeat(8000)}` },
  };
  for (const [name, headers] of Object.entries(headerCases)) attempts.push({ name, path, headers });
  return attempts;
}

describe.each(ADAPTERS)('a locked /metrics on the application port (%s)', (kind: AdapterKind) => {
  describe.each([
    ['without a global prefix', undefined],
    ['with a global prefix', 'api'],
  ])('%s', (_label, prefix) => {
    let app: INestApplication;
    let url: string;
    beforeAll(async () => {
      ({ app, url } = await startApp(
        kind,
        {
          imports: [
            VezaMetricsModule.forRoot({
              auth: { bearerToken: TOKEN, basic: { username: USER, password: PASSWORD } },
            }),
          ],
          controllers: [TracksController],
        },
        (a) => {
          if (prefix) a.setGlobalPrefix(prefix);
        },
      ));
    });
    afterAll(() => app.close());

    it('serves the metrics with a valid bearer token or basic credentials', async () => {
      for (const authorization of [`Bearer ${TOKEN}`, `bearer ${TOKEN}`, basic(`${USER}:${PASSWORD}`)]) {
        const res = await rawRequest(url, '/metrics', { headers: { Authorization: authorization } });
        expect(res.status).toBe(200);
        expect(res.body).toContain('# TYPE veza_http_requests_total counter');
      }
    });

    it('answers 401 with a challenge for both schemes, and no metrics, without credentials', async () => {
      const res = await rawRequest(url, '/metrics');
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe(
        'Bearer realm="metrics", Basic realm="metrics", charset="UTF-8"',
      );
      expect(res.body).toBe('Unauthorized\n');
    });

    it('lets none of at least 50 bypass attempts through', async () => {
      const attempts = bypassAttempts('/metrics');
      expect(attempts.length).toBeGreaterThanOrEqual(50);
      expect(await leakedAttempts(url, attempts)).toEqual([]);
    });
  });
});

describe.each(ADAPTERS)('/metrics on a listener of its own (%s)', (kind: AdapterKind) => {
  let app: INestApplication;
  let appUrl: string;
  let metricsUrl: string;
  const options: VezaMetricsModuleOptions = {
    appEndpoint: false,
    metricsServer: { port: 0, host: '127.0.0.1' },
    auth: { bearerToken: TOKEN },
  };
  beforeAll(async () => {
    ({ app, url: appUrl } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot(options)],
      controllers: [TracksController],
    }));
    const address = app.get(MetricsServer).address();
    metricsUrl = `http://127.0.0.1:${address?.port ?? 0}`;
  });
  afterAll(() => app.close());

  it('serves the metrics there, and not on the application port', async () => {
    await rawRequest(appUrl, '/tracks');
    const res = await rawRequest(metricsUrl, '/metrics', { headers: { Authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(200);
    expect(res.body).toMatch(
      /^veza_http_requests_total\{method="GET",endpoint="\/tracks",status="2xx"\} 1$/m,
    );
    expect(
      (await rawRequest(appUrl, '/metrics', { headers: { Authorization: `Bearer ${TOKEN}` } })).status,
    ).toBe(404);
  });

  it('answers HEAD without a body, other methods 405 and other paths 404', async () => {
    const head = await rawRequest(metricsUrl, '/metrics', {
      method: 'HEAD',
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect([head.status, head.body]).toEqual([200, '']);
    const post = await rawRequest(metricsUrl, '/metrics', {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
    });
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect((await rawRequest(metricsUrl, '/tracks')).status).toBe(404);
  });

  it('lets none of at least 50 bypass attempts through', async () => {
    expect(await leakedAttempts(metricsUrl, bypassAttempts('/metrics'))).toEqual([]);
  });

  it('fails the start-up, naming the option, when its port is taken', async () => {
    const port = app.get(MetricsServer).address()?.port ?? 0;
    const clash = startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ metricsServer: { port, host: '127.0.0.1' } })],
    });
    await expect(clash).rejects.toThrow(
      `VezaMetricsModule: option "metricsServer" could not listen on 127.0.0.1:${port}`,
    );
  });
});
