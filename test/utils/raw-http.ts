import { request } from 'node:http';
import { connect } from 'node:net';
import { networkInterfaces } from 'node:os';

/** A response read off the wire. */
export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/**
 * Sends a request with the path exactly as given (no URL normalisation: `//metrics`, `/./metrics`
 * and `%6D` reach the server as written), and reads the whole response.
 *
 * Each request gets a connection of its own (`agent: false`). Node's global agent keeps sockets
 * alive (Node 19+) and hands the next request an idle one; specs call this between long
 * synchronous stretches (feeding thousands of values, `promtool` run with spawnSync), during which
 * the server's keep-alive timeout (5 s) closes that idle socket while the client cannot yet see the
 * FIN: the next request is written to a closed socket and fails with `read ECONNRESET`.
 */
export function rawRequest(
  baseUrl: string,
  path: string,
  options: { method?: string; headers?: Record<string, string | string[]>; body?: string } = {},
): Promise<RawResponse> {
  const { hostname, port } = new URL(baseUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: hostname,
        port: Number(port),
        path,
        method: options.method ?? 'GET',
        headers: options.headers ?? {},
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString('utf8'),
          }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.setTimeout(10_000, () =>
      req.destroy(new Error(`no answer to ${options.method ?? 'GET'} ${path} in 10 s`)),
    );
    req.end(options.body);
  });
}

/** Whether a TCP connection to `host:port` is accepted. */
export function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** This machine's first external IPv4 address, if it has one. */
export function externalIPv4(): string | undefined {
  return Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && !a.internal && a.family === 'IPv4')?.address;
}

/** Expects `port` to accept connections on 127.0.0.1 only: not on ::1, nor on {@link externalIPv4}. */
export async function expectLoopbackOnly(port: number): Promise<void> {
  const external = externalIPv4();
  expect(await accepts('127.0.0.1', port)).toBe(true);
  expect(await accepts('::1', port)).toBe(false);
  if (external) expect(await accepts(external, port)).toBe(false);
}
