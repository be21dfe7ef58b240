import { Inject, Injectable, type Type } from '@nestjs/common';
import { connect, type Socket } from 'node:net';
import { Gauge, type Registry } from 'prom-client';
import { VezaMetricsRegistry } from '../../src';

/** How a slow scraper reads its answer. */
export type SlowReading = 'paused' | 'trickle';

/** A scrape over a raw socket whose client reads slowly or not at all. */
export interface SlowScrape {
  /** The status of the answer, once its head arrived. */
  readonly status: Promise<number>;
  /** Resolves when the server ends or destroys the connection. */
  readonly closed: Promise<void>;
  /** Bytes of the response received so far (head included). */
  received(): number;
  /**
   * Reads everything left, at full speed: a paused socket does not see the server's hang-up until
   * it reads up to it. Resolves once the connection is closed.
   */
  drain(): Promise<void>;
  /** Hangs up. */
  destroy(): void;
}

/**
 * Sends `GET path` on a connection of its own and reads the answer slowly: `paused` reads its head
 * and then nothing (the kernel's buffers fill, then the server's), `trickle` takes one byte every
 * 100 ms off the socket. `localAddress` (another address of 127.0.0.0/8) makes the scraper a
 * different client from the test's own requests.
 */
export function slowScrape(
  baseUrl: string,
  path: string,
  options: { reading: SlowReading; headers?: Record<string, string>; localAddress?: string },
): SlowScrape {
  const { hostname, port } = new URL(baseUrl);
  const socket: Socket = connect({ host: hostname, port: Number(port), localAddress: options.localAddress });
  const head = Object.entries({ Host: 'metrics', ...options.headers })
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('');
  socket.write(`GET ${path} HTTP/1.1\r\n${head}\r\n`);
  socket.on('error', () => undefined);
  let received = 0;
  let text = '';
  let timer: NodeJS.Timeout | undefined;
  const status = new Promise<number>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      received += chunk.length;
      if (text.length < 64) text += chunk.toString('latin1', 0, 64);
      const match = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (!match) return;
      resolve(Number(match[1]));
      socket.off('data', onData);
      socket.pause();
      if (options.reading === 'trickle') {
        timer = setInterval(() => {
          const byte = socket.read(1) as Buffer | null;
          if (byte) received += byte.length;
        }, 100);
      }
    };
    socket.on('data', onData);
    socket.once('close', () => reject(new Error(`connection closed before an answer to GET ${path}`)));
  });
  status.catch(() => undefined);
  const closed = new Promise<void>((resolve) =>
    socket.once('close', () => {
      clearInterval(timer);
      resolve();
    }),
  );
  const drain = (): Promise<void> => {
    clearInterval(timer);
    socket.on('data', (chunk: Buffer) => (received += chunk.length));
    socket.resume();
    return closed;
  };
  return { status, closed, received: () => received, drain, destroy: () => socket.destroy() };
}

/**
 * Off-heap bytes (`arrayBuffers`) once garbage is collected. V8 frees the memory of dead
 * ArrayBuffers on a background thread after a GC (Node 24 left 8.5 MiB of freed sockets' buffers
 * counted right after `gc()`), so this collects and reads a few times over some turns of the event
 * loop and keeps the lowest figure.
 */
export async function offHeapAfterGc(gc: () => void): Promise<number> {
  let lowest = Infinity;
  for (let round = 0; round < 5; round++) {
    gc();
    gc();
    lowest = Math.min(lowest, process.memoryUsage().arrayBuffers);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return lowest;
}

/** Resolves `'done'` when `promise` settles, `'pending'` if it has not after `ms`. */
export async function settledWithin(promise: Promise<unknown>, ms: number): Promise<'done' | 'pending'> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'pending'>((resolve) => (timer = setTimeout(resolve, ms, 'pending')));
  try {
    return await Promise.race([promise.then(() => 'done' as const), late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * A provider that makes the exposition big: the gauge `app_big` with `series` series whose label
 * values are about 185 characters long (8,000 series: about 1.6 MB of text; 40,000: about 8.4 MB,
 * more than the kernel's socket buffers take in).
 */
export function bigExposition(series: number): Type {
  @Injectable()
  class BigExposition {
    constructor(@Inject(VezaMetricsRegistry) metrics: VezaMetricsRegistry) {
      const gauge = new Gauge({
        name: 'app_big',
        help: 'Many long series',
        labelNames: ['key'],
        registers: [metrics.registry as Registry],
      });
      const padding = 'x'.repeat(180);
      for (let i = 0; i < series; i++) gauge.set({ key: `${padding}${i}` }, i);
    }
  }
  return BigExposition;
}
