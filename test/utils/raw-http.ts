import { request } from 'node:http';

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
