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
 * Each connection goes from one answer straight to the next request, so it is never idle for longer
 * than a turn of the event loop; but the client and the server share one process, and when that
 * process stalls (garbage collection, a loaded machine) for longer than the server's keep-alive
 * timeout right after an answer, the server's timer fires before it reads the next request, already
 * waiting on the socket: it destroys a socket with unread data, which the client sees as
 * `ECONNRESET` (fetch's pool saw it in graphql-hostile at load 5 to 13). {@link keepConnections}
 * turns that timeout off on the server under test, so only the client closes its connections.
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
