/**
 * Traffic for the sample app (sample-app/), over real HTTP and Socket.IO: a client for its
 * endpoints, and `trafficRound()`, one round of a mix that writes into every metric family of the
 * catalog (successful and failed logins, a rate-limited login, uploads refused for each reason,
 * declined payments, transfers that succeed on retry and that fail permanently, cache hits and misses,
 * live viewers, chat messages, health checks, unmatched URLs). The sample's queries (TypeORM), cache
 * reads (@nestjs/cache-manager), health checks (@nestjs/terminus) and requests to its payment
 * provider's sandbox (outbound HTTP: per round 2 answered 2xx, 5 answered 4xx, 1 answered 5xx, and
 * one status page read per health check) are measured by the module's integrations.
 *
 * Used by the e2e specs (test/e2e/prometheus*.e2e-spec.ts, monitoring*.e2e-spec.ts) and by
 * `npm run sample:prometheus` / `npm run monitoring:screenshot`. Plain Node only (no jest).
 */
import { randomUUID } from 'node:crypto';
import { io, type Socket } from 'socket.io-client';

/** An answer of the sample app: its status and parsed JSON body. */
export interface Reply {
  status: number;
  // The sample's DTOs; callers read the few fields they need.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** The EICAR test signature, which the sample's virus scanner (like ClamAV) reports as infected. */
export const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

const RUN = randomUUID().slice(0, 8);
let sequence = 0;

/** An email no one used yet (in this process). */
export function uniqueEmail(prefix = 'listener'): string {
  sequence += 1;
  return `${prefix}${sequence}-${RUN}@veza.test`;
}

/** A JSON upload body of `bytes` bytes of content. */
export function uploadBody(
  bytes: number,
  mimeType = 'audio/mpeg',
  fill = 0x61,
): { filename: string; mimeType: string; content: string } {
  return { filename: `file-${bytes}`, mimeType, content: Buffer.alloc(bytes, fill).toString('base64') };
}

/** A client of the sample app's HTTP API. */
export class SampleClient {
  constructor(readonly url: string) {}

  /** Sends one request (JSON body, bearer token) and reads the whole answer. */
  async call(method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(this.url + path, {
      method,
      headers,
      signal: AbortSignal.timeout(10_000),
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, body: parsed };
  }

  /** Like `call`, but fails unless the status is `expected`. */
  async expect(
    expected: number,
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<Reply> {
    const reply = await this.call(method, path, body, token);
    if (reply.status !== expected) {
      throw new Error(
        `${method} ${path} answered ${reply.status}, expected ${expected}: ${JSON.stringify(reply.body)}`,
      );
    }
    return reply;
  }

  /** Registers a new user and logs in (one successful login attempt). */
  async signUp(
    prefix = 'listener',
  ): Promise<{ email: string; password: string; token: string; userId: string }> {
    const email = uniqueEmail(prefix);
    const password = 'correct horse battery';
    await this.expect(201, 'POST', '/auth/register', { email, password, displayName: prefix });
    const login = await this.expect(200, 'POST', '/auth/login', { email, password });
    const { token, userId } = login.body as { token: string; userId: string };
    return { email, password, token, userId };
  }
}

/** Socket.IO clients of the sample's chat, kept open (veza_websocket_connections_active). */
export async function openChat(url: string, count: number): Promise<Socket[]> {
  const sockets: Socket[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const socket = io(url, {
        transports: ['websocket'],
        reconnection: false,
        forceNew: true,
        timeout: 5000,
      });
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', () => resolve());
        socket.once('connect_error', reject);
      });
    }
  } catch (error) {
    for (const s of sockets) s.disconnect();
    throw error;
  }
  return sockets;
}

export interface TrafficOptions {
  /** Failed logins with unknown emails (each a `failure` attempt). Default 12. */
  failedLogins?: number;
  /** GET /health calls. Default 2. */
  healthChecks?: number;
  /** Open chat sockets to send messages on (one accepted and one rejected message each). */
  chat?: Socket[];
}

/** What a round did, where a caller wants exact numbers. */
export interface TrafficReport {
  requests: number;
  byStatus: Record<number, number>;
  loginFailures: number;
  loginSuccesses: number;
  rateLimited: number;
  uploadedBytes: number;
  failedUploads: number;
  permanentTransferFailures: number;
}

/**
 * One round of the mix. Every step checks the status the sample app documents, so a change of the
 * sample shows up here rather than as a missing series on a dashboard.
 */
export async function trafficRound(url: string, options: TrafficOptions = {}): Promise<TrafficReport> {
  const client = new SampleClient(url);
  const report: TrafficReport = {
    requests: 0,
    byStatus: {},
    loginFailures: 0,
    loginSuccesses: 0,
    rateLimited: 0,
    uploadedBytes: 0,
    failedUploads: 0,
    permanentTransferFailures: 0,
  };
  const expect = async (
    status: number,
    method: string,
    path: string,
    body?: unknown,
    token?: string,
  ): Promise<Reply> => {
    const reply = await client.expect(status, method, path, body, token);
    report.requests += 1;
    report.byStatus[status] = (report.byStatus[status] ?? 0) + 1;
    return reply;
  };

  // Auth: a registration, a duplicate one (a unique violation in the database), logins.
  const email = uniqueEmail('round');
  const password = 'correct horse battery';
  await expect(201, 'POST', '/auth/register', { email, password, displayName: 'Round' });
  await expect(409, 'POST', '/auth/register', { email, password, displayName: 'Again' });
  const token = ((await expect(200, 'POST', '/auth/login', { email, password })).body as { token: string })
    .token;
  report.loginSuccesses += 1;
  for (let i = 0; i < (options.failedLogins ?? 12); i++) {
    await expect(401, 'POST', '/auth/login', { email: uniqueEmail('nobody'), password: 'guess' });
    report.loginFailures += 1;
  }
  // A brute force on one account: refused with 429 once its failures reach the limit (5).
  const victim = uniqueEmail('victim');
  await expect(201, 'POST', '/auth/register', { email: victim, password, displayName: 'Victim' });
  for (let i = 0; i < 5; i++) {
    await expect(401, 'POST', '/auth/login', { email: victim, password: 'wrong password' });
    report.loginFailures += 1;
  }
  await expect(429, 'POST', '/auth/login', { email: victim, password: 'wrong password' });
  report.rateLimited += 1;
  await expect(200, 'GET', '/auth/me', undefined, token);

  // Uploads: three stored, then refused by quota, validation and the virus scanner.
  const first = await expect(201, 'POST', '/uploads', uploadBody(2000), token);
  await expect(201, 'POST', '/uploads', uploadBody(3000, 'image/png'), token);
  await expect(201, 'POST', '/uploads', uploadBody(40 * 1024), token);
  report.uploadedBytes += 2000 + 3000 + 40 * 1024;
  await expect(413, 'POST', '/uploads', uploadBody(30 * 1024), token);
  await expect(400, 'POST', '/uploads', uploadBody(100, 'text/plain'), token);
  await expect(
    422,
    'POST',
    '/uploads',
    { filename: 'eicar.mp3', mimeType: 'audio/mpeg', content: Buffer.from(EICAR).toString('base64') },
    token,
  );
  report.failedUploads += 3;
  await expect(200, 'GET', '/uploads', undefined, token);

  // Tracks, read through the cache: a miss, then a hit; an unknown one is a 404 (and a miss).
  const uploadId = (first.body as { id: string }).id;
  const track = await expect(
    201,
    'POST',
    '/tracks',
    { title: 'Round trip', artist: 'Veza', durationSeconds: 200, uploadId },
    token,
  );
  const other = await expect(
    201,
    'POST',
    '/tracks',
    { title: 'B-side', artist: 'Veza', durationSeconds: 150 },
    token,
  );
  const trackIds = [(track.body as { id: string }).id, (other.body as { id: string }).id];
  for (const id of trackIds) {
    await expect(200, 'GET', `/tracks/${id}`);
    await expect(200, 'GET', `/tracks/${id}`);
  }
  await expect(404, 'GET', `/tracks/${randomUUID()}`);
  await expect(200, 'GET', '/tracks');

  // Playlists.
  await expect(201, 'POST', '/playlists', { name: 'Round mix', trackIds }, token);
  await expect(200, 'GET', '/playlists');

  // Commerce: a paid order and a declined one.
  await expect(200, 'GET', '/commerce/products');
  await expect(201, 'POST', '/commerce/cart/items', { productId: 'license-basic', quantity: 1 }, token);
  await expect(201, 'POST', '/commerce/checkout', { paymentToken: 'tok_visa' }, token);
  await expect(201, 'POST', '/commerce/cart/items', { productId: 'sample-pack', quantity: 2 }, token);
  await expect(402, 'POST', '/commerce/checkout', { paymentToken: 'tok_chargeDeclined' }, token);
  await expect(200, 'GET', '/commerce/orders', undefined, token);

  // Transfers: one paid on its first retry, one that fails permanently after three.
  const flaky = await expect(
    201,
    'POST',
    '/commerce/transfers',
    { sellerAccount: 'acct_flaky', amountCents: 500 },
    token,
  );
  await expect(
    200,
    'POST',
    `/commerce/transfers/${(flaky.body as { id: string }).id}/retry`,
    undefined,
    token,
  );
  const closed = await expect(
    201,
    'POST',
    '/commerce/transfers',
    { sellerAccount: 'acct_closed', amountCents: 900 },
    token,
  );
  for (let i = 0; i < 3; i++)
    await expect(
      200,
      'POST',
      `/commerce/transfers/${(closed.body as { id: string }).id}/retry`,
      undefined,
      token,
    );
  report.permanentTransferFailures += 1;

  // Live: a stream and its viewers.
  const stream = await expect(201, 'POST', '/live/streams', { title: 'Round live' }, token);
  for (let i = 0; i < 3; i++)
    await expect(200, 'POST', `/live/streams/${(stream.body as { id: string }).id}/viewers`);
  await expect(200, 'GET', '/live/streams');

  // Chat.
  for (const socket of options.chat ?? []) {
    await socket.timeout(5000).emitWithAck('chat', { room: 'lobby', text: 'hello' });
    await socket.timeout(5000).emitWithAck('chat', { room: 'lobby' });
  }

  // Health, a URL that matches no route, and a logout.
  for (let i = 0; i < (options.healthChecks ?? 2); i++) {
    const health = await client.call('GET', '/health');
    report.requests += 1;
    report.byStatus[health.status] = (report.byStatus[health.status] ?? 0) + 1;
  }
  await expect(404, 'GET', `/nowhere/${randomUUID()}`);
  await expect(204, 'POST', '/auth/logout', undefined, token);
  return report;
}

/** One GraphQL request to the sample's POST /graphql: its status and parsed body. */
export async function graphql(
  url: string,
  query: string,
  variables: Record<string, unknown> = {},
): Promise<Reply> {
  return new SampleClient(url).call('POST', '/graphql', { query, variables });
}

/** What {@link transportsRound} did, for exact assertions. */
export interface TransportsReport {
  /** GraphQL operations by `operation_type operation_name outcome`. */
  operations: Record<string, number>;
  /** Notifications by the microservice's outcome. */
  notifications: { success: number; error: number };
  /** Audio uploads queued for transcoding, by the job's expected outcome. */
  transcodes: { completed: number; failed: number };
}

/**
 * One round through the sample's other transports: GraphQL queries (one of them for a track that
 * does not exist: a resolver error), the `sharePlaylist` mutation (a notification over the TCP
 * microservice, delivered, then refused for a recipient that is not an email address), and two audio
 * uploads, one the worker cannot decode (`corrupt…`). The transcoding outcomes need the app started
 * with Redis; the uploads are stored either way.
 */
export async function transportsRound(url: string): Promise<TransportsReport> {
  const client = new SampleClient(url);
  const { token } = await client.signUp('graphql');
  const track = await client.expect(
    201,
    'POST',
    '/tracks',
    { title: 'Night Drive', artist: 'Veza', durationSeconds: 200 },
    token,
  );
  const playlist = await client.expect(
    201,
    'POST',
    '/playlists',
    { name: 'Drive', trackIds: [(track.body as { id: string }).id], isPublic: true },
    token,
  );
  const playlistId = (playlist.body as { id: string }).id;
  const ok = (reply: Reply, what: string): Reply => {
    if (reply.status !== 200)
      throw new Error(`${what} answered ${reply.status}: ${JSON.stringify(reply.body)}`);
    return reply;
  };

  ok(
    await graphql(url, 'query Catalog { tracks { id title } playlists { name tracks { title } } }'),
    'Catalog',
  );
  const missing = ok(
    await graphql(url, 'query Track($id: ID!) { track(id: $id) { title } }', { id: 'none' }),
    'Track',
  );
  if (!(missing.body as { errors?: unknown[] }).errors?.length) throw new Error('track "none" gave no error');
  const share =
    'mutation Share($id: ID!, $to: String!) { sharePlaylist(playlistId: $id, recipient: $to) { delivered } }';
  const delivered = async (to: string): Promise<boolean> =>
    (
      ok(await graphql(url, share, { id: playlistId, to }), 'Share').body as {
        data: { sharePlaylist: { delivered: boolean } };
      }
    ).data.sharePlaylist.delivered;
  const sent = await delivered('fan@veza.test');
  const refused = await delivered('not-an-email');
  if (refused) throw new Error('a notification to "not-an-email" was delivered');

  await client.expect(201, 'POST', '/uploads', { ...uploadBody(1000), filename: 'take.mp3' }, token);
  await client.expect(201, 'POST', '/uploads', { ...uploadBody(1000), filename: 'corrupt.mp3' }, token);
  return {
    operations: {
      'query Catalog success': 1,
      'query Track resolver_error': 1,
      'mutation Share success': 2,
    },
    notifications: { success: sent ? 1 : 0, error: sent ? 1 : 0 },
    transcodes: { completed: 1, failed: 1 },
  };
}
