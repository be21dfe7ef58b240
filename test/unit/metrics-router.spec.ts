import type { IncomingMessage, ServerResponse } from 'node:http';
import { routeMetrics } from '../../src/endpoint/metrics-router';
import type { ScrapeHandler, ScrapeRequest } from '../../src/endpoint/scrape-handler';

/** What a response was sent: status, headers and body, as written. */
interface Sent {
  status?: number;
  headers?: Record<string, unknown>;
  body?: unknown;
}

/** A Node response that records what it is sent (the parts the router and `writeAnswer` use). */
function response(): { res: ServerResponse; sent: Sent; ended: Promise<void> } {
  const sent: Sent = {};
  let done = (): void => undefined;
  const ended = new Promise<void>((resolve) => (done = resolve));
  const res = {
    headersSent: false,
    writableEnded: false,
    destroyed: false,
    writeHead(status: number, headers: Record<string, unknown>) {
      Object.assign(sent, { status, headers });
      this.headersSent = true;
      return this;
    },
    end(body?: unknown) {
      sent.body = body;
      this.writableEnded = true;
      done();
      return this;
    },
  };
  return { res: res as unknown as ServerResponse, sent, ended };
}

/** A handler that answers every scrape `a 1`, noting the requests it was given. */
function handler(): { handler: ScrapeHandler; scraped: ScrapeRequest[] } {
  const scraped: ScrapeRequest[] = [];
  const scrape = (request: ScrapeRequest) => {
    scraped.push(request);
    return Promise.resolve({ status: 200, headers: { 'Content-Type': 'text/plain' }, body: 'a 1\n' });
  };
  return { handler: { scrape } as unknown as ScrapeHandler, scraped };
}

async function route(method: string, url: string): Promise<{ sent: Sent; scraped: number }> {
  const { res, sent, ended } = response();
  const { handler: h, scraped } = handler();
  routeMetrics('/metrics', h, { method, url, headers: {} } as IncomingMessage, res);
  await ended;
  return { sent, scraped: scraped.length };
}

const NOT_FOUND: Sent = {
  status: 404,
  headers: { 'Content-Type': 'text/plain; charset=utf-8' },
  body: 'Not Found\n',
};

describe('routeMetrics: the router of metricsServer and serveClusterMetrics', () => {
  it.each(['/metrics', '/metrics?x=1', '/metrics?'])('hands GET %s to the handler', async (url) => {
    expect(await route('GET', url)).toEqual({
      sent: { status: 200, headers: { 'Content-Type': 'text/plain', 'Content-Length': 4 }, body: 'a 1\n' },
      scraped: 1,
    });
  });

  it('hands HEAD to the handler and sends no body', async () => {
    const { sent, scraped } = await route('HEAD', '/metrics');
    expect([sent.status, sent.body, scraped]).toEqual([200, undefined, 1]);
  });

  it.each(['/', '/metrics/', '/Metrics', '/%6Detrics', '//metrics', '/metrics#x', '/api/metrics', ''])(
    'answers %s 404, whatever the method, without scraping',
    async (url) => {
      expect(await route('GET', url)).toEqual({ sent: NOT_FOUND, scraped: 0 });
      expect(await route('POST', url)).toEqual({ sent: NOT_FOUND, scraped: 0 });
    },
  );

  it.each(['POST', 'PUT', 'DELETE', 'OPTIONS', 'get'])(
    'answers %s on the path 405 with Allow',
    async (method) => {
      expect(await route(method, '/metrics')).toEqual({
        sent: {
          status: 405,
          headers: { 'Content-Type': 'text/plain; charset=utf-8', Allow: 'GET, HEAD' },
          body: 'Method Not Allowed\n',
        },
        scraped: 0,
      });
    },
  );
});
