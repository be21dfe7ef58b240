import { Agent, request, type Server } from 'node:http';

/** One request of a flood: a POST of `body` to `path`. */
export interface FloodRequest {
  path: string;
  body: string;
  headers?: Record<string, string>;
}

/**
 * Sends `count` requests built by `build(i)`, `concurrency` at a time, over at most `concurrency`
 * keep-alive connections of an agent of its own (closed when the flood ends), and returns how many
 * got each status. A request that fails (reset, refused, no answer in 30 s) fails the flood with
 * its index and cause: nothing is retried.
 *
 * The reset fetch's pool saw in graphql-hostile (at load 5 to 13) is HTTP/1.1's keep-alive race
 * (nodejs/node#52649, #47130): a connection left idle for about the server's keep-alive timeout (5 s
 * on Express) is closed by the server while the client, not having read the FIN yet, writes its
 * next request onto it. fetch's pool opens connections without bound (16 workers sending 3,000
 * requests opened 27 on Node 20) and leaves some idle while others serve; its idle timer (the server's hint less a second) fires late in a stalled process.
 * Here each worker owns at most one of at most `concurrency` connections and goes from one answer
 * straight to its next request, and {@link keepConnections} turns the server's keep-alive timeout
 * off, so only the client closes a connection: when this flood ends.
 */
export async function floodRequests(
  baseUrl: string,
  count: number,
  build: (i: number) => FloodRequest,
  concurrency = 16,
): Promise<Record<number, number>> {
  const { hostname, port } = new URL(baseUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: concurrency, maxFreeSockets: concurrency });
  const statuses: Record<number, number> = {};
  let next = 0;
  const send = (i: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const { path, body, headers } = build(i);
      const req = request(
        {
          host: hostname,
          port: Number(port),
          path,
          method: 'POST',
          agent,
          headers: {
            'content-type': 'application/json',
            ...headers,
            'content-length': Buffer.byteLength(body),
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
          res.on('error', reject);
        },
      );
      req.on('error', (error) =>
        reject(new Error(`flood request ${i} (POST ${path}) failed: ${error.message}`)),
      );
      req.setTimeout(30_000, () => req.destroy(new Error('no answer in 30 s')));
      req.end(body);
    });
  try {
    await Promise.all(
      Array.from({ length: Math.min(concurrency, count) }, async () => {
        while (next < count) {
          const status = await send(next++);
          statuses[status] = (statuses[status] ?? 0) + 1;
        }
      }),
    );
  } finally {
    agent.destroy();
  }
  return statuses;
}

/**
 * Turns off the keep-alive timeout of the server under test (see {@link floodRequests}): its idle
 * connections stay open until the client closes them or the app closes (Node's `server.close()`
 * closes idle connections).
 */
export function keepConnections(server: Server): void {
  server.keepAliveTimeout = 0;
}
