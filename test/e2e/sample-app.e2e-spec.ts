/**
 * The sample app, driven over real HTTP (and Socket.IO) on both adapters: every endpoint, and the
 * exact change each request makes to /metrics (scraped before and after).
 */
import { UNMATCHED_ENDPOINT } from '@veza/nestjs-metrics';
import { io, type Socket } from 'socket.io-client';
import { AppModule } from '../../sample-app/src/app.module';
import { MAX_FAILED_LOGINS } from '../../sample-app/src/auth/login-throttle.service';
import { MAX_TRANSFER_RETRIES } from '../../sample-app/src/commerce/transfers.service';
import { PaymentsSandbox } from '../../sample-app/src/payments/payments-sandbox';
import { ADAPTERS, scrape, startApp, type StartedApp } from '../utils/app';
import { sampleValue } from '../utils/exposition';

type Labels = Record<string, string>;

interface Reply {
  status: number;
  // The JSON bodies are the sample's own DTOs; the assertions check their shape.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

/** The difference a step made to the exposition: `after - before` of one sample (absent = 0). */
type Delta = (name: string, labels?: Labels) => number;

/** veza_database_connections_active of the sample's one sql.js DataSource: sql.js has no pool. */
const SQLJS_CONNECTIONS = 0;

const EICAR = 'X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*';

describe.each(ADAPTERS)('sample app on %s', (kind) => {
  let started: StartedApp;
  let url: string;
  let seq = 0;

  beforeAll(async () => {
    started = await startApp(kind, { imports: [AppModule] });
    url = started.url;
  }, 60_000); // the sample app builds its GraphQL schema at start-up: seconds on a loaded machine

  afterAll(async () => {
    await started?.app.close();
  });

  async function call(method: string, path: string, body?: unknown, token?: string): Promise<Reply> {
    const headers: Record<string, string> = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(url + path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
  }

  /** Scrapes, runs `step`, scrapes again; returns the step's result and the delta of any sample. */
  async function measure<T>(step: () => Promise<T>): Promise<{ result: T; delta: Delta; after: string }> {
    const before = await scrape(url);
    const result = await step();
    const after = await scrape(url);
    const delta: Delta = (name, labels = {}) =>
      (sampleValue(after, name, labels) ?? 0) - (sampleValue(before, name, labels) ?? 0);
    return { result, delta, after };
  }

  /** Scrapes until `predicate` holds (what a socket's close does is seen a little later). */
  async function until(predicate: (text: string) => boolean): Promise<string> {
    for (let i = 0; i < 100; i++) {
      const text = await scrape(url);
      if (predicate(text)) return text;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error('the exposition never reached the expected state');
  }

  const requests = (method: string, endpoint: string, status: string): [string, Labels] => [
    'veza_http_requests_total',
    { method, endpoint, status },
  ];

  /** The series of outbound requests to the payment provider's sandbox (host `127.0.0.1:<port>`). */
  const toPayments = (method: string, status: string): [string, Labels] => [
    'veza_http_client_requests_total',
    { method, host: new URL(started.app.get(PaymentsSandbox, { strict: false }).url).host, status },
  ];

  function uniqueEmail(): string {
    seq += 1;
    return `listener${seq}-${kind}@veza.test`;
  }

  async function signUp(): Promise<{ email: string; token: string; userId: string }> {
    const email = uniqueEmail();
    expect(
      (await call('POST', '/auth/register', { email, password: 'correct horse', displayName: 'Listener' }))
        .status,
    ).toBe(201);
    const login = await call('POST', '/auth/login', { email, password: 'correct horse' });
    expect(login.status).toBe(200);
    return { email, token: login.body.token, userId: login.body.userId };
  }

  const audio = (bytes: number, fill = 0x61): { filename: string; mimeType: string; content: string } => ({
    filename: 'take.mp3',
    mimeType: 'audio/mpeg',
    content: Buffer.alloc(bytes, fill).toString('base64'),
  });

  describe('auth', () => {
    it('register counts a user, an insert into users and a 2xx; a taken email is a 409 and a unique violation', async () => {
      const email = uniqueEmail();
      const first = await measure(() =>
        call('POST', '/auth/register', { email, password: 'correct horse', displayName: 'A' }),
      );
      expect(first.result.status).toBe(201);
      expect(first.result.body).not.toHaveProperty('passwordHash');
      expect(first.delta('veza_users_registered_total')).toBe(1);
      expect(first.delta(...requests('POST', '/auth/register', '2xx'))).toBe(1);
      expect(
        first.delta('veza_database_query_duration_seconds_count', { operation: 'insert', table: 'users' }),
      ).toBe(1);

      const again = await measure(() =>
        call('POST', '/auth/register', { email, password: 'correct horse', displayName: 'A' }),
      );
      expect(again.result.status).toBe(409);
      expect(again.delta('veza_users_registered_total')).toBe(0);
      expect(again.delta(...requests('POST', '/auth/register', '4xx'))).toBe(1);
      expect(
        again.delta('veza_database_query_errors_total', {
          operation: 'insert',
          error_type: 'SQLITE_CONSTRAINT_UNIQUE',
        }),
      ).toBe(1);
    });

    it('a body that fails validation is a 4xx and registers no one', async () => {
      const { result, delta } = await measure(() =>
        call('POST', '/auth/register', { email: 'not-an-email', password: 'x' }),
      );
      expect(result.status).toBe(400);
      expect(delta('veza_users_registered_total')).toBe(0);
      expect(delta(...requests('POST', '/auth/register', '4xx'))).toBe(1);
    });

    it('a failed login adds exactly 1 to success="failure" and a 4xx', async () => {
      const { email } = await signUp();
      const { result, delta } = await measure(() =>
        call('POST', '/auth/login', { email, password: 'wrong password' }),
      );
      expect(result.status).toBe(401);
      expect(delta('veza_auth_login_attempts_total', { success: 'failure' })).toBe(1);
      expect(delta('veza_auth_login_attempts_total', { success: 'success' })).toBe(0);
      expect(delta(...requests('POST', '/auth/login', '4xx'))).toBe(1);
      expect(delta(...requests('POST', '/auth/login', '2xx'))).toBe(0);
    });

    it('a login opens a session (sessions and active users +1); logout closes it', async () => {
      const email = uniqueEmail();
      await call('POST', '/auth/register', { email, password: 'correct horse', displayName: 'B' });

      const login = await measure(() => call('POST', '/auth/login', { email, password: 'correct horse' }));
      expect(login.result.status).toBe(200);
      expect(login.delta('veza_auth_login_attempts_total', { success: 'success' })).toBe(1);
      expect(login.delta('veza_auth_login_attempts_total', { success: 'failure' })).toBe(0);
      expect(login.delta('veza_auth_sessions_active')).toBe(1);
      expect(login.delta('veza_active_users')).toBe(1);
      const token: string = login.result.body.token;

      // A second session of the same user: one more session, not one more user.
      const second = await measure(() => call('POST', '/auth/login', { email, password: 'correct horse' }));
      expect(second.delta('veza_auth_sessions_active')).toBe(1);
      expect(second.delta('veza_active_users')).toBe(0);

      const me = await measure(() => call('GET', '/auth/me', undefined, token));
      expect(me.result.body.email).toBe(email);
      expect(me.delta(...requests('GET', '/auth/me', '2xx'))).toBe(1);

      const logout = await measure(() => call('POST', '/auth/logout', undefined, token));
      expect(logout.result.status).toBe(204);
      expect(logout.delta('veza_auth_sessions_active')).toBe(-1);
      expect(logout.delta('veza_active_users')).toBe(0);
      expect(logout.delta(...requests('POST', '/auth/logout', '2xx'))).toBe(1);

      const logoutAgain = await measure(() => call('POST', '/auth/logout', undefined, token));
      expect(logoutAgain.result.status).toBe(401);
      expect(logoutAgain.delta('veza_auth_sessions_active')).toBe(0);
      expect(logoutAgain.delta(...requests('POST', '/auth/logout', '4xx'))).toBe(1);
    });

    it(`refuses a login after ${MAX_FAILED_LOGINS} failures with 429: one rate limit hit, no login attempt`, async () => {
      const { email } = await signUp();
      const failures = await measure(async () => {
        for (let i = 0; i < MAX_FAILED_LOGINS; i++)
          expect((await call('POST', '/auth/login', { email, password: 'nope' })).status).toBe(401);
      });
      expect(failures.delta('veza_auth_login_attempts_total', { success: 'failure' })).toBe(
        MAX_FAILED_LOGINS,
      );
      expect(
        failures.delta('veza_rate_limit_hits_total', {
          endpoint: '/auth/login',
          limit_type: 'failed_logins',
        }),
      ).toBe(0);

      const refused = await measure(() => call('POST', '/auth/login', { email, password: 'correct horse' }));
      expect(refused.result.status).toBe(429);
      expect(
        refused.delta('veza_rate_limit_hits_total', { endpoint: '/auth/login', limit_type: 'failed_logins' }),
      ).toBe(1);
      expect(refused.delta('veza_auth_login_attempts_total', { success: 'failure' })).toBe(0);
      expect(refused.delta('veza_auth_login_attempts_total', { success: 'success' })).toBe(0);
      expect(refused.delta(...requests('POST', '/auth/login', '4xx'))).toBe(1);
    });
  });

  describe('tracks', () => {
    it('counts an uploaded track; without a token it is a 401 and counts nothing', async () => {
      const { token } = await signUp();
      const created = await measure(() =>
        call('POST', '/tracks', { title: 'Night Drive', artist: 'Veza', durationSeconds: 200 }, token),
      );
      expect(created.result.status).toBe(201);
      expect(created.delta('veza_tracks_uploaded_total')).toBe(1);
      expect(created.delta(...requests('POST', '/tracks', '2xx'))).toBe(1);
      expect(
        created.delta('veza_database_query_duration_seconds_count', { operation: 'insert', table: 'tracks' }),
      ).toBe(1);

      const anonymous = await measure(() =>
        call('POST', '/tracks', { title: 'x', artist: 'y', durationSeconds: 1 }),
      );
      expect(anonymous.result.status).toBe(401);
      expect(anonymous.delta('veza_tracks_uploaded_total')).toBe(0);
      expect(anonymous.delta(...requests('POST', '/tracks', '4xx'))).toBe(1);
    });

    it('GET /tracks/:id is one series per route template: a miss then a hit of the tracks cache; an unknown id is a 4xx', async () => {
      const { token } = await signUp();
      const created = await call(
        'POST',
        '/tracks',
        { title: 'Low Tide', artist: 'Veza', durationSeconds: 180 },
        token,
      );
      const id: string = created.body.id;

      const reads = await measure(async () => {
        expect((await call('GET', `/tracks/${id}`)).body.title).toBe('Low Tide');
        expect((await call('GET', `/tracks/${id}`)).body.title).toBe('Low Tide');
      });
      expect(reads.delta(...requests('GET', '/tracks/:id', '2xx'))).toBe(2);
      expect(
        reads.delta('veza_http_request_duration_seconds_count', { method: 'GET', endpoint: '/tracks/:id' }),
      ).toBe(2);
      expect(reads.delta('veza_cache_misses_total', { subsystem: 'tracks' })).toBe(1);
      expect(reads.delta('veza_cache_hits_total', { subsystem: 'tracks' })).toBe(1);
      expect(
        reads.delta('veza_database_query_duration_seconds_count', { operation: 'select', table: 'tracks' }),
      ).toBe(1);
      expect(reads.after).not.toContain(`endpoint="/tracks/${id}"`);

      const missing = await measure(() => call('GET', '/tracks/no-such-track'));
      expect(missing.result.status).toBe(404);
      expect(missing.delta(...requests('GET', '/tracks/:id', '4xx'))).toBe(1);
      expect(missing.delta(...requests('GET', '/tracks/:id', '2xx'))).toBe(0);
      expect(missing.delta('veza_cache_misses_total', { subsystem: 'tracks' })).toBe(1);
      expect(missing.after).not.toContain('no-such-track');
    });

    it('GET /tracks lists them', async () => {
      const { result, delta } = await measure(() => call('GET', '/tracks'));
      expect(result.status).toBe(200);
      expect(Array.isArray(result.body)).toBe(true);
      expect(delta(...requests('GET', '/tracks', '2xx'))).toBe(1);
    });

    it('a track made from an audio upload of the caller is accepted; from an unknown upload it is a 400', async () => {
      const { token } = await signUp();
      const upload = await call('POST', '/uploads', audio(2000), token);
      expect(upload.status).toBe(201);
      const ok = await measure(() =>
        call(
          'POST',
          '/tracks',
          { title: 'From upload', artist: 'Veza', durationSeconds: 60, uploadId: upload.body.id },
          token,
        ),
      );
      expect(ok.result.status).toBe(201);
      expect(ok.delta('veza_tracks_uploaded_total')).toBe(1);

      const bad = await measure(() =>
        call(
          'POST',
          '/tracks',
          { title: 'x', artist: 'y', durationSeconds: 60, uploadId: '00000000-0000-4000-8000-000000000000' },
          token,
        ),
      );
      expect(bad.result.status).toBe(400);
      expect(bad.delta('veza_tracks_uploaded_total')).toBe(0);
    });
  });

  describe('uploads', () => {
    const size = (labels: Labels): [string, Labels] => [
      'veza_file_upload_size_bytes_bucket',
      { type: 'audio', ...labels },
    ];
    /** The sample's own histogram (`@Timed` on `VirusScanner#isInfected`): scans by verdict. */
    const scans = (verdict: string): [string, Labels] => [
      'sample_virus_scan_duration_seconds_count',
      { verdict },
    ];

    it('an upload of N bytes adds N to the size sum, 1 to the count and to every bucket from the first le >= N', async () => {
      const { token } = await signUp();
      const N = 3000;
      const { result, delta } = await measure(() => call('POST', '/uploads', audio(N), token));
      expect(result.status).toBe(201);
      expect(result.body.sizeBytes).toBe(N);
      expect(delta('veza_file_uploads_total', { type: 'audio', status: 'success' })).toBe(1);
      expect(delta('veza_file_upload_size_bytes_sum', { type: 'audio' })).toBe(N);
      expect(delta('veza_file_upload_size_bytes_count', { type: 'audio' })).toBe(1);
      expect(delta(...size({ le: '1024' }))).toBe(0);
      expect(delta(...size({ le: '2048' }))).toBe(0);
      expect(delta(...size({ le: '4096' }))).toBe(1);
      expect(delta(...size({ le: '16777216' }))).toBe(1);
      expect(delta(...size({ le: '+Inf' }))).toBe(1);
      expect(delta('veza_uploads_failed_total', { reason: 'validation' })).toBe(0);
      expect(delta(...requests('POST', '/uploads', '2xx'))).toBe(1);
      expect(delta(...scans('clean'))).toBe(1);
      expect(delta(...scans('infected'))).toBe(0);
      expect(
        delta('veza_database_query_duration_seconds_count', { operation: 'insert', table: 'uploads' }),
      ).toBe(1);

      const listed = await measure(() => call('GET', '/uploads', undefined, token));
      expect(listed.result.body).toHaveLength(1);
      expect(listed.delta(...requests('GET', '/uploads', '2xx'))).toBe(1);
      expect(
        listed.delta('veza_database_query_duration_seconds_count', { operation: 'select', table: 'uploads' }),
      ).toBe(1);
    });

    it('a file of exactly 1024 bytes falls in le="1024" (bounds are inclusive)', async () => {
      const { token } = await signUp();
      const { delta } = await measure(() => call('POST', '/uploads', audio(1024), token));
      expect(delta(...size({ le: '1024' }))).toBe(1);
      expect(delta('veza_file_upload_size_bytes_sum', { type: 'audio' })).toBe(1024);
    });

    // @TrackUpload counts a refused upload as status="failure" (the helper the sample called before
    // was given "failed"), and observes the size of stored files only: a refused file is not stored.
    it('an unsupported type is refused for validation (400), counted as a failure with type "other", no size, no scan', async () => {
      const { token } = await signUp();
      const body = {
        filename: 'notes.txt',
        mimeType: 'text/plain',
        content: Buffer.from('hello').toString('base64'),
      };
      const { result, delta } = await measure(() => call('POST', '/uploads', body, token));
      expect(result.status).toBe(400);
      expect(delta('veza_uploads_failed_total', { reason: 'validation' })).toBe(1);
      expect(delta('veza_file_uploads_total', { type: 'other', status: 'failure' })).toBe(1);
      expect(delta('veza_file_uploads_total', { type: 'other', status: 'success' })).toBe(0);
      expect(delta('veza_file_upload_size_bytes_count', { type: 'other' })).toBe(0);
      expect(delta('veza_file_upload_size_bytes_sum', { type: 'other' })).toBe(0);
      expect(delta(...scans('clean'))).toBe(0);
      expect(delta(...requests('POST', '/uploads', '4xx'))).toBe(1);
    });

    it('going over the quota is refused (413) with reason "quota"', async () => {
      const { token } = await signUp();
      const N = 40 * 1024;
      expect((await call('POST', '/uploads', audio(N), token)).status).toBe(201);
      const { result, delta } = await measure(() => call('POST', '/uploads', audio(N), token));
      expect(result.status).toBe(413);
      expect(delta('veza_uploads_failed_total', { reason: 'quota' })).toBe(1);
      expect(delta('veza_uploads_failed_total', { reason: 'validation' })).toBe(0);
      expect(delta('veza_file_uploads_total', { type: 'audio', status: 'failure' })).toBe(1);
      expect(delta('veza_file_uploads_total', { type: 'audio', status: 'success' })).toBe(0);
      expect(delta(...size({ le: '+Inf' }))).toBe(0);
      expect(delta('veza_file_upload_size_bytes_sum', { type: 'audio' })).toBe(0);
      expect(delta(...scans('clean'))).toBe(0);
      expect(delta(...requests('POST', '/uploads', '4xx'))).toBe(1);
    });

    it('an infected file is refused (422) with reason "ClamAV"', async () => {
      const { token } = await signUp();
      const body = {
        filename: 'eicar.mp3',
        mimeType: 'audio/mpeg',
        content: Buffer.from(EICAR).toString('base64'),
      };
      const { result, delta } = await measure(() => call('POST', '/uploads', body, token));
      expect(result.status).toBe(422);
      expect(delta('veza_uploads_failed_total', { reason: 'ClamAV' })).toBe(1);
      expect(delta('veza_file_uploads_total', { type: 'audio', status: 'failure' })).toBe(1);
      expect(delta('veza_file_upload_size_bytes_count', { type: 'audio' })).toBe(0);
      expect(delta(...scans('infected'))).toBe(1);
      expect(delta(...scans('clean'))).toBe(0);
      expect(delta(...requests('POST', '/uploads', '4xx'))).toBe(1);
    });
  });

  describe('playlists', () => {
    it('counts a created playlist; one naming an unknown track is a 400 and counts nothing', async () => {
      const { token } = await signUp();
      const track = await call(
        'POST',
        '/tracks',
        { title: 'Opener', artist: 'Veza', durationSeconds: 90 },
        token,
      );
      const created = await measure(() =>
        call('POST', '/playlists', { name: 'Road trip', trackIds: [track.body.id] }, token),
      );
      expect(created.result.status).toBe(201);
      expect(created.delta('veza_playlists_created_total')).toBe(1);
      expect(created.delta(...requests('POST', '/playlists', '2xx'))).toBe(1);

      const bad = await measure(() =>
        call('POST', '/playlists', { name: 'Ghosts', trackIds: ['nope'] }, token),
      );
      expect(bad.result.status).toBe(400);
      expect(bad.delta('veza_playlists_created_total')).toBe(0);

      const listed = await measure(() => call('GET', '/playlists'));
      expect(listed.result.body.map((p: { name: string }) => p.name)).toContain('Road trip');
      expect(listed.delta(...requests('GET', '/playlists', '2xx'))).toBe(1);
    });
  });

  describe('commerce', () => {
    it('a paid checkout is one completed order and one checkout duration', async () => {
      const { token } = await signUp();
      const products = await measure(() => call('GET', '/commerce/products'));
      expect(products.result.body.length).toBeGreaterThan(0);
      expect(products.delta(...requests('GET', '/commerce/products', '2xx'))).toBe(1);
      const added = await measure(() =>
        call('POST', '/commerce/cart/items', { productId: 'license-basic', quantity: 2 }, token),
      );
      expect(added.result.status).toBe(201);
      expect(added.delta('sample_cart_additions_total', { product: 'license-basic' })).toBe(1);
      expect(added.delta(...requests('POST', '/commerce/cart/items', '2xx'))).toBe(1);
      const cart = await measure(() => call('GET', '/commerce/cart', undefined, token));
      expect(cart.result.body).toEqual([{ productId: 'license-basic', quantity: 2 }]);
      expect(cart.delta(...requests('GET', '/commerce/cart', '2xx'))).toBe(1);

      const { result, delta } = await measure(() =>
        call('POST', '/commerce/checkout', { paymentToken: 'tok_visa' }, token),
      );
      expect(result.status).toBe(201);
      expect(result.body).toMatchObject({ status: 'completed', totalCents: 1998 });
      expect(delta('veza_commerce_orders_total', { status: 'completed' })).toBe(1);
      expect(delta('veza_commerce_orders_total', { status: 'failed' })).toBe(0);
      expect(delta('veza_commerce_checkout_duration_seconds_count')).toBe(1);
      expect(delta('veza_commerce_checkout_duration_seconds_bucket', { le: '+Inf' })).toBe(1);
      expect(delta('veza_commerce_checkout_duration_seconds_sum')).toBeGreaterThanOrEqual(0);
      expect(
        delta('veza_database_query_duration_seconds_count', { operation: 'insert', table: 'orders' }),
      ).toBe(1);
      expect(delta('veza_errors_total', { type: 'payment_declined', severity: 'warning' })).toBe(0);
      expect(delta(...requests('POST', '/commerce/checkout', '2xx'))).toBe(1);
      // The charge: one POST to the provider through global fetch, answered 200.
      expect(delta(...toPayments('POST', '2xx'))).toBe(1);
      expect(delta(...toPayments('POST', '4xx'))).toBe(0);

      const orders = await measure(() => call('GET', '/commerce/orders', undefined, token));
      expect(orders.result.body).toHaveLength(1);
      expect(orders.delta(...requests('GET', '/commerce/orders', '2xx'))).toBe(1);
      expect(
        orders.delta('veza_database_query_duration_seconds_count', { operation: 'select', table: 'orders' }),
      ).toBe(1);
      expect((await call('GET', '/commerce/cart', undefined, token)).body).toEqual([]);
    });

    it("an unknown product is a 404 and is not counted: the app's own counter labels only products of the catalog", async () => {
      const { token } = await signUp();
      const { result, delta, after } = await measure(() =>
        call('POST', '/commerce/cart/items', { productId: 'no-such-product', quantity: 1 }, token),
      );
      expect(result.status).toBe(404);
      expect(delta(...requests('POST', '/commerce/cart/items', '4xx'))).toBe(1);
      expect(after).toContain('# TYPE sample_cart_additions_total counter');
      expect(after).not.toContain('no-such-product');
    });

    it('a declined payment is a failed order, an error of severity warning and a 402', async () => {
      const { token } = await signUp();
      await call('POST', '/commerce/cart/items', { productId: 'sample-pack', quantity: 1 }, token);
      const { result, delta } = await measure(() =>
        call('POST', '/commerce/checkout', { paymentToken: 'tok_chargeDeclined' }, token),
      );
      expect(result.status).toBe(402);
      expect(delta('veza_commerce_orders_total', { status: 'failed' })).toBe(1);
      expect(delta('veza_commerce_orders_total', { status: 'completed' })).toBe(0);
      expect(delta('veza_commerce_checkout_duration_seconds_count')).toBe(1);
      expect(delta('veza_errors_total', { type: 'payment_declined', severity: 'warning' })).toBe(1);
      expect(
        delta('veza_database_query_duration_seconds_count', { operation: 'insert', table: 'orders' }),
      ).toBe(1);
      expect(delta(...requests('POST', '/commerce/checkout', '4xx'))).toBe(1);
      // The provider answered the charge 402.
      expect(delta(...toPayments('POST', '4xx'))).toBe(1);
      expect(delta(...toPayments('POST', '2xx'))).toBe(0);
    });

    it('an empty cart is a 400: no order, no checkout duration', async () => {
      const { token } = await signUp();
      const { result, delta } = await measure(() =>
        call('POST', '/commerce/checkout', { paymentToken: 'tok_visa' }, token),
      );
      expect(result.status).toBe(400);
      expect(delta('veza_commerce_orders_total', { status: 'completed' })).toBe(0);
      expect(delta('veza_commerce_orders_total', { status: 'failed' })).toBe(0);
      expect(delta('veza_commerce_checkout_duration_seconds_count')).toBe(0);
    });

    it('a transfer that fails once is retried successfully', async () => {
      const { token } = await signUp();
      const created = await measure(() =>
        call('POST', '/commerce/transfers', { sellerAccount: 'acct_flaky', amountCents: 500 }, token),
      );
      expect(created.result.body.status).toBe('failed');
      expect(created.delta('veza_transfer_retry_total')).toBe(0);
      // The provider answered the first payout 503, then the retry's 200.
      expect(created.delta(...toPayments('POST', '5xx'))).toBe(1);

      const retried = await measure(() =>
        call('POST', `/commerce/transfers/${created.result.body.id}/retry`, undefined, token),
      );
      expect(retried.result.status).toBe(200);
      expect(retried.result.body).toMatchObject({ status: 'paid', retries: 1 });
      expect(retried.delta('veza_transfer_retry_total')).toBe(1);
      expect(retried.delta('veza_transfer_retry_success_total')).toBe(1);
      expect(retried.delta('veza_transfer_retry_failures_total')).toBe(0);
      expect(retried.delta('veza_transfer_retry_permanent_failures_total')).toBe(0);
      expect(
        retried.delta('veza_errors_total', { type: 'transfer_permanently_failed', severity: 'critical' }),
      ).toBe(0);
      expect(retried.delta(...requests('POST', '/commerce/transfers/:id/retry', '2xx'))).toBe(1);
      expect(retried.delta(...toPayments('POST', '2xx'))).toBe(1);
      expect(retried.delta(...toPayments('POST', '5xx'))).toBe(0);
    });

    it(`a transfer that keeps failing is given up after ${MAX_TRANSFER_RETRIES} retries`, async () => {
      const { token } = await signUp();
      const transfer = await call(
        'POST',
        '/commerce/transfers',
        { sellerAccount: 'acct_closed', amountCents: 900 },
        token,
      );
      const retries = await measure(async () => {
        const replies: Reply[] = [];
        for (let i = 0; i < MAX_TRANSFER_RETRIES; i++)
          replies.push(await call('POST', `/commerce/transfers/${transfer.body.id}/retry`, undefined, token));
        return replies;
      });
      expect(retries.result.map((r) => r.body.status)).toEqual([
        ...Array.from({ length: MAX_TRANSFER_RETRIES - 1 }, () => 'failed'),
        'permanently_failed',
      ]);
      // @TrackTransferRetry ends each attempt in exactly one of success, failure or permanent failure:
      // the last retry is a permanent failure, no longer also an ordinary one (the sample counted both).
      expect(retries.delta('veza_transfer_retry_total')).toBe(MAX_TRANSFER_RETRIES);
      expect(retries.delta('veza_transfer_retry_failures_total')).toBe(MAX_TRANSFER_RETRIES - 1);
      expect(retries.delta('veza_transfer_retry_success_total')).toBe(0);
      expect(retries.delta('veza_transfer_retry_permanent_failures_total')).toBe(1);
      expect(
        retries.delta('veza_database_query_duration_seconds_count', {
          operation: 'update',
          table: 'transfers',
        }),
      ).toBe(MAX_TRANSFER_RETRIES);
      expect(
        retries.delta('veza_errors_total', { type: 'transfer_permanently_failed', severity: 'critical' }),
      ).toBe(1);
      // Each retry's payout was refused with 400 (a closed account), and timed.
      expect(retries.delta(...toPayments('POST', '4xx'))).toBe(MAX_TRANSFER_RETRIES);
      expect(
        retries.delta('veza_http_client_request_duration_seconds_count', {
          method: 'POST',
          host: toPayments('POST', '4xx')[1].host,
        }),
      ).toBe(MAX_TRANSFER_RETRIES);

      const again = await measure(() =>
        call('POST', `/commerce/transfers/${transfer.body.id}/retry`, undefined, token),
      );
      expect(again.result.status).toBe(409);
      expect(again.delta('veza_transfer_retry_total')).toBe(0);
      expect(again.delta(...requests('POST', '/commerce/transfers/:id/retry', '4xx'))).toBe(1);
    });
  });

  describe('live streams', () => {
    it('publishes the streams on air and their viewers', async () => {
      const { token } = await signUp();
      const started = await measure(() => call('POST', '/live/streams', { title: 'Studio session' }, token));
      expect(started.result.status).toBe(201);
      expect(started.delta('veza_live_streams_active')).toBe(1);
      const id: string = started.result.body.id;

      const joined = await measure(async () => {
        await call('POST', `/live/streams/${id}/viewers`);
        await call('POST', `/live/streams/${id}/viewers`);
        await call('POST', `/live/streams/${id}/viewers`);
        await call('DELETE', `/live/streams/${id}/viewers`);
      });
      expect(joined.delta('veza_live_stream_viewers_total')).toBe(2);
      expect(joined.delta(...requests('POST', '/live/streams/:id/viewers', '2xx'))).toBe(3);
      expect(joined.delta(...requests('DELETE', '/live/streams/:id/viewers', '2xx'))).toBe(1);

      const listed = await measure(() => call('GET', '/live/streams'));
      expect(listed.result.body.map((s: { id: string }) => s.id)).toContain(id);
      expect(listed.delta(...requests('GET', '/live/streams', '2xx'))).toBe(1);
      expect(listed.delta('veza_live_streams_active')).toBe(0);

      const notTheHost = await measure(async () =>
        call('DELETE', `/live/streams/${id}`, undefined, (await signUp()).token),
      );
      expect(notTheHost.result.status).toBe(403);
      expect(notTheHost.delta('veza_live_streams_active')).toBe(0);
      expect(notTheHost.delta('veza_live_stream_viewers_total')).toBe(0);

      const ended = await measure(() => call('DELETE', `/live/streams/${id}`, undefined, token));
      expect(ended.result.status).toBe(204);
      expect(ended.delta('veza_live_streams_active')).toBe(-1);
      expect(ended.delta('veza_live_stream_viewers_total')).toBe(-2);
      expect(ended.delta(...requests('DELETE', '/live/streams/:id', '2xx'))).toBe(1);
    });

    it('leaving a stream nobody watches changes nothing; an unknown stream is a 404', async () => {
      const { token } = await signUp();
      const id: string = (await call('POST', '/live/streams', { title: 'Empty room' }, token)).body.id;
      const left = await measure(() => call('DELETE', `/live/streams/${id}/viewers`));
      expect(left.result.status).toBe(200);
      expect(left.result.body.viewers).toBe(0);
      expect(left.delta('veza_live_stream_viewers_total')).toBe(0);
      expect(left.delta(...requests('DELETE', '/live/streams/:id/viewers', '2xx'))).toBe(1);

      const unknown = await measure(() => call('POST', '/live/streams/no-such-stream/viewers'));
      expect(unknown.result.status).toBe(404);
      expect(unknown.delta('veza_live_stream_viewers_total')).toBe(0);
      expect(unknown.delta(...requests('POST', '/live/streams/:id/viewers', '4xx'))).toBe(1);
      await call('DELETE', `/live/streams/${id}`, undefined, token);
    });

    /** Follows a stream's server-sent events; `readUntil` reads until `marker` shows up or the stream ends. */
    async function follow(
      id: string,
    ): Promise<{ status: number; readUntil: (marker?: string) => Promise<string>; leave: () => void }> {
      const controller = new AbortController();
      const res = await fetch(`${url}/live/streams/${id}/events`, { signal: controller.signal });
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      const readUntil = async (marker?: string): Promise<string> => {
        while (marker === undefined || !text.includes(marker)) {
          const { value, done } = await reader.read();
          if (done) break;
          text += decoder.decode(value, { stream: true });
        }
        return text;
      };
      return { status: res.status, readUntil, leave: () => controller.abort() };
    }

    it("counts the clients following a stream's events (server-sent events) in the app's own @InProgress gauge", async () => {
      const gauge = 'sample_live_event_subscribers';
      const { token } = await signUp();
      const id: string = (await call('POST', '/live/streams', { title: 'Listening party' }, token)).body.id;
      const events = (text: string, status: string): number =>
        sampleValue(text, ...requests('GET', '/live/streams/:id/events', status)) ?? 0;
      const before = await scrape(url);
      expect(sampleValue(before, gauge)).toBe(0);
      const first = await follow(id);
      const second = await follow(id);
      expect([first.status, second.status]).toEqual([200, 200]);
      expect(await first.readUntil('event: state')).toContain(`"id":"${id}"`);
      await second.readUntil('event: state');
      expect(sampleValue(await scrape(url), gauge)).toBe(2);

      await call('POST', `/live/streams/${id}/viewers`);
      expect(await second.readUntil('event: viewers')).toContain('"viewers":1');

      // One client leaves: its subscription ends.
      first.leave();
      await until((text) => sampleValue(text, gauge) === 1);

      // The stream ends: the other client gets `ended`, and its event stream completes.
      await call('DELETE', `/live/streams/${id}`, undefined, token);
      expect(await second.readUntil()).toContain('event: ended');
      await until((text) => sampleValue(text, gauge) === 0);
      // Each response is recorded when it closes: the one that completed (2xx), the one the client
      // left (499, a 4xx).
      const after = await until(
        (text) =>
          events(text, '2xx') + events(text, '4xx') >= events(before, '2xx') + events(before, '4xx') + 2,
      );
      expect(events(after, '2xx') - events(before, '2xx')).toBe(1);
      expect(events(after, '4xx') - events(before, '4xx')).toBe(1);

      const unknown = await measure(() => call('GET', '/live/streams/no-such-stream/events'));
      expect(unknown.result.status).toBe(404);
      expect(sampleValue(unknown.after, gauge)).toBe(0);
      expect(unknown.delta(...requests('GET', '/live/streams/:id/events', '4xx'))).toBe(1);
    });
  });

  describe('health', () => {
    it("GET /health records one check of the database and one of the payment provider, both ok (terminus' indicators, no decorator)", async () => {
      const { result, delta, after } = await measure(() => call('GET', '/health'));
      expect(result.status).toBe(200);
      expect(result.body).toMatchObject({
        status: 'ok',
        error: {},
        details: { database: { status: 'up' }, payments: { status: 'up' } },
      });
      for (const service of ['database', 'payments']) {
        expect(delta('veza_health_check_duration_ms_count', { service })).toBe(1);
        expect(delta('veza_health_check_duration_ms_bucket', { service, le: '+Inf' })).toBe(1);
        expect(sampleValue(after, 'veza_health_check_status', { service })).toBe(1);
      }
      expect(delta(...requests('GET', '/health', '2xx'))).toBe(1);
      // The payments check reads the provider's status page through @nestjs/axios (node:http).
      expect(delta(...toPayments('GET', '2xx'))).toBe(1);
    });

    it("GET /health answers 503 while the payment provider is down: its status 0, the database still 1 (terminus' report)", async () => {
      const payments = started.app.get(PaymentsSandbox, { strict: false });
      payments.healthy = false;
      try {
        const { result, delta, after } = await measure(() => call('GET', '/health'));
        expect(result.status).toBe(503);
        expect(result.body).toMatchObject({
          status: 'error',
          info: { database: { status: 'up' } },
          error: { payments: { status: 'down' } },
        });
        for (const service of ['database', 'payments'])
          expect(delta('veza_health_check_duration_ms_count', { service })).toBe(1);
        expect(sampleValue(after, 'veza_health_check_status', { service: 'payments' })).toBe(0);
        expect(sampleValue(after, 'veza_health_check_status', { service: 'database' })).toBe(1);
        expect(delta(...requests('GET', '/health', '5xx'))).toBe(1);
        expect(delta(...toPayments('GET', '5xx'))).toBe(1);
      } finally {
        payments.healthy = true;
      }
      const again = await measure(() => call('GET', '/health'));
      expect(again.result.status).toBe(200);
      expect(sampleValue(again.after, 'veza_health_check_status', { service: 'payments' })).toBe(1);
    });

    it('reports the connections in use of its DataSource: none, sql.js has no pool', async () => {
      expect(sampleValue(await scrape(url), 'veza_database_connections_active')).toBe(SQLJS_CONNECTIONS);
    });
  });

  describe('HTTP recording', () => {
    it('puts every unmatched URL in one series, and never records the scrape itself', async () => {
      const { result, delta, after } = await measure(async () => {
        await call('GET', '/no/such/route/1');
        return call('GET', '/no/such/route/2?x=1');
      });
      expect(result.status).toBe(404);
      expect(delta(...requests('GET', UNMATCHED_ENDPOINT, '4xx'))).toBe(2);
      expect(after).not.toContain('/no/such/route');
      expect(after).not.toContain('endpoint="/metrics"');
    });

    it('carries the default label service="veza-api"', async () => {
      await call('GET', '/tracks');
      const text = await scrape(url);
      expect(
        sampleValue(text, 'veza_http_requests_total', {
          method: 'GET',
          endpoint: '/tracks',
          status: '2xx',
          service: 'veza-api',
        }),
      ).toBeGreaterThanOrEqual(1);
      expect(sampleValue(text, 'veza_database_connections_active', { service: 'veza-api' })).toBe(
        SQLJS_CONNECTIONS,
      );
    });
  });

  describe('chat over Socket.IO', () => {
    async function connect(): Promise<Socket> {
      const socket = io(url, { transports: ['websocket'], reconnection: false, forceNew: true });
      await new Promise<void>((resolve, reject) => {
        socket.once('connect', resolve);
        socket.once('connect_error', reject);
      });
      return socket;
    }

    it('counts open connections and chat messages by status', async () => {
      const before = await scrape(url);
      const connections = (text: string): number =>
        sampleValue(text, 'veza_websocket_connections_active') ?? 0;
      const base = connections(before);

      const a = await connect();
      const b = await connect();
      try {
        await until((t) => connections(t) === base + 2);

        const ok = await a.emitWithAck('chat', { room: 'lobby', text: 'hello' });
        const rejected = await b.emitWithAck('chat', { room: 'lobby' });
        expect(ok).toEqual({ ok: true });
        expect(rejected).toMatchObject({ ok: false });

        const after = await scrape(url);
        const delta = (labels: Labels): number =>
          (sampleValue(after, 'veza_websocket_messages_total', labels) ?? 0) -
          (sampleValue(before, 'veza_websocket_messages_total', labels) ?? 0);
        expect(delta({ type: 'chat', status: 'ok' })).toBe(1);
        expect(delta({ type: 'chat', status: 'rejected' })).toBe(1);
      } finally {
        a.disconnect();
        b.disconnect();
      }
      await until((t) => connections(t) === base);
    });
  });

  it('every decorated method was recorded without a problem (the self-metric has no series)', async () => {
    expect(await scrape(url)).not.toMatch(/^veza_metrics_instrumentation_errors_total\{/m);
  });
});
