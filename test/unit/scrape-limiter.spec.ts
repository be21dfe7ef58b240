import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ScrapeLimiter, type ScrapeLease } from '../../src/endpoint/scrape-limiter';
import { resolveOptions } from '../../src/veza-metrics.options';

const MiB = 2 ** 20;
const lease = (admitted: ScrapeLease | string): ScrapeLease => {
  if (typeof admitted === 'string') throw new Error(`refused: ${admitted}`);
  return admitted;
};

describe('ScrapeLimiter', () => {
  it('admits at most maxConcurrent renders, and one client address at most maxConcurrent - 1 of them when fair', () => {
    const limiter = new ScrapeLimiter(
      { maxConcurrent: 2, maxBytesInFlight: 32 * MiB, sendTimeoutMs: 1000 },
      true,
    );
    const a = lease(limiter.admit('10.0.0.1'));
    expect(limiter.admit('10.0.0.1')).toBe('concurrency');
    const b = lease(limiter.admit('10.0.0.2'));
    expect(limiter.admit('10.0.0.3')).toBe('concurrency');
    a.release();
    b.release();
    expect(limiter.inFlight).toEqual({ scrapes: 0, clients: 0 });
    expect(limiter.bytesInFlight).toBe(0);
  });

  it('refuses, before rendering, a scrape whose estimated bytes do not fit; a lone exposition bigger than the bound is served', () => {
    const limiter = new ScrapeLimiter(
      { maxConcurrent: 4, maxBytesInFlight: 20 * MiB, sendTimeoutMs: 1000 },
      false,
    );
    const big = lease(limiter.admit('a'));
    expect(big.rendered(30 * MiB)).toBe(true);
    expect(limiter.admit('b')).toBe('bytes_in_flight');
    big.release();
    const last = lease(limiter.admit('a'));
    expect(last.rendered(8 * MiB)).toBe(true);
    last.release();
    const first = lease(limiter.admit('a'));
    const second = lease(limiter.admit('b'));
    // Both were admitted on the last size (8 MiB each); once rendered, the second has grown and does not fit.
    expect(first.rendered(8 * MiB)).toBe(true);
    expect(second.rendered(16 * MiB)).toBe(false);
    expect(limiter.bytesInFlight).toBe(8 * MiB);
    expect(limiter.admit('c')).toBe('bytes_in_flight');
    first.release();
    expect(limiter.bytesInFlight).toBe(0);
  });

  it('keeps one client address to half the bytes when fair', () => {
    const limiter = new ScrapeLimiter(
      { maxConcurrent: 8, maxBytesInFlight: 20 * MiB, sendTimeoutMs: 1000 },
      true,
    );
    const first = lease(limiter.admit('a'));
    expect(first.rendered(8 * MiB)).toBe(true);
    expect(limiter.admit('a')).toBe('bytes_in_flight');
    lease(limiter.admit('b')).release();
  });

  it('forgets every client address once its scrapes end: 10,000 addresses leave nothing behind', () => {
    const limiter = new ScrapeLimiter(
      { maxConcurrent: 2, maxBytesInFlight: 32 * MiB, sendTimeoutMs: 1000 },
      true,
    );
    for (let i = 0; i < 10_000; i++) {
      const admitted = lease(limiter.admit(`10.0.${i >> 8}.${i & 255}`));
      if (i % 2 === 0) admitted.release();
      else if (admitted.rendered(1000)) admitted.release();
    }
    expect(limiter.inFlight).toEqual({ scrapes: 0, clients: 0 });
    expect(limiter.bytesInFlight).toBe(0);
  });

  it('refuses new scrapes once closed, and a render that ends after the close', () => {
    const limiter = new ScrapeLimiter(
      { maxConcurrent: 2, maxBytesInFlight: 32 * MiB, sendTimeoutMs: 1000 },
      false,
    );
    const rendering = lease(limiter.admit('a'));
    limiter.close();
    expect(limiter.admit('b')).toBe('shutdown');
    expect(rendering.rendered(1000)).toBe(false);
    expect(limiter.inFlight).toEqual({ scrapes: 0, clients: 0 });
  });

  it('destroys the connection of a send past the send timeout, counts it, and releases its bytes', async () => {
    const aborted: string[] = [];
    const limiter = new ScrapeLimiter(
      { maxConcurrent: 2, maxBytesInFlight: 32 * MiB, sendTimeoutMs: 50 },
      false,
      (r) => aborted.push(r),
    );
    const server = createServer((_req, res) => {
      const admitted = lease(limiter.admit('a'));
      admitted.rendered(1000);
      admitted.send(res);
      res.writeHead(200, { 'Content-Length': '1000' });
      res.write('x'); // and never the rest
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const outcome = await new Promise<string>((resolve) => {
        request({ host: '127.0.0.1', port }, (res) => {
          res
            .on('data', () => undefined)
            .on('error', (e) => resolve(e.message))
            .on('end', () => resolve('end'));
        })
          .on('error', (e) => resolve(e.message))
          .end();
      });
      expect(outcome).toBe('aborted');
      expect(aborted).toEqual(['send_timeout']);
      expect(limiter.inFlight).toEqual({ scrapes: 0, clients: 0 });
    } finally {
      server.close();
    }
  });
});

describe('scrape options', () => {
  it('defaults maxBytesInFlight to 32 MiB and sendTimeoutMs to 10 s', () => {
    const { scrape } = resolveOptions({}).endpoint;
    expect([scrape.maxBytesInFlight, scrape.sendTimeoutMs]).toEqual([32 * MiB, 10_000]);
  });

  it.each([
    [{ maxBytesInFlight: 0 }, 'scrape.maxBytesInFlight'],
    [{ maxBytesInFlight: '32MiB' }, 'scrape.maxBytesInFlight'],
    [{ sendTimeoutMs: 1.5 }, 'scrape.sendTimeoutMs'],
    [{ sendTimeoutMs: 600_001 }, 'scrape.sendTimeoutMs'],
  ])('refuses scrape %p at start-up, naming %s', (scrape, option) => {
    expect(() => resolveOptions({ scrape } as never)).toThrow(`"${option}"`);
  });
});
