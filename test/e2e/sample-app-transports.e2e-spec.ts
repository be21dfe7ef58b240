/**
 * The sample app's other transports (issue 15 item 6), over real HTTP on both adapters: its GraphQL
 * API, its notifications microservice (TCP, hybrid) called by the `sharePlaylist` mutation, and its
 * transcoding worker on a real redis-server started by the spec. Exact /metrics lines after known
 * traffic; and the app started as `npm run sample` starts it, with no Redis, serves HTTP and /metrics.
 */
import { Logger, type INestApplication } from '@nestjs/common';
import { Transport } from '@nestjs/microservices';
import { AppModule } from '../../sample-app/src/app.module';
import { redisAnswers } from '../../sample-app/src/redis-probe';
import { startSampleApp } from '../../sample-app/src/sample-app';
import { SampleClient, transportsRound, uploadBody } from '../../scripts/sample-traffic';
import { ADAPTERS, scrape, startApp } from '../utils/app';
import { startRedis, type Broker } from '../utils/brokers';
import { freePort } from '../utils/prometheus';

jest.setTimeout(120_000);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** The lines of `name` in the exposition, without the HELP and TYPE lines. */
function lines(text: string, name: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

/** Scrapes until `predicate` holds (a job is recorded once the worker is done with it). */
async function until(url: string, predicate: (text: string) => boolean): Promise<string> {
  let text = '';
  for (let i = 0; i < 400; i++) {
    text = await scrape(url);
    if (predicate(text)) return text;
    await sleep(50);
  }
  return text;
}

/** The app as main.ts wires it, on a free HTTP port and a free notifications port. */
async function startHybrid(
  kind: (typeof ADAPTERS)[number],
  redisUrl: string | undefined,
): Promise<{ app: INestApplication; url: string }> {
  const port = await freePort();
  process.env.NOTIFICATIONS_PORT = String(port);
  const started = await startApp(kind, { imports: [AppModule.forRoot({ redisUrl })] }, (app) => {
    app.connectMicroservice({ transport: Transport.TCP, options: { host: '127.0.0.1', port } });
  });
  await started.app.startAllMicroservices();
  return started;
}

describe.each(ADAPTERS)('the sample app on %s: GraphQL, notifications and transcoding', (kind) => {
  let redis: Broker | undefined;
  let app: INestApplication;
  let url: string;
  let text: string;

  beforeAll(async () => {
    redis = await startRedis();
    if (!redis) process.stdout.write('NOTICE: no redis-server: the transcoding lines are not checked.\n');
    ({ app, url } = await startHybrid(kind, redis?.url));
    await transportsRound(url);
    // Both jobs recorded, and BullMQ done moving the failed one out of `active` (it moves it after
    // the processor's rejection, which is when the job is recorded): the queue depth is read from Redis.
    text = await until(
      url,
      (t) =>
        !redis ||
        (lines(t, 'veza_queue_jobs_total').length === 2 &&
          lines(t, 'veza_queue_jobs').includes(
            'veza_queue_jobs{queue="uploads",state="failed",service="veza-api"} 1',
          )),
    );
  }, 120_000);

  afterAll(async () => {
    await app?.close();
    await redis?.stop();
  });

  it('records each GraphQL operation by type, name and outcome, and the root fields and Playlist.tracks', () => {
    expect(lines(text, 'veza_graphql_operations_total')).toEqual([
      'veza_graphql_operations_total{operation_type="query",operation_name="Catalog",outcome="success",service="veza-api"} 1',
      'veza_graphql_operations_total{operation_type="query",operation_name="Track",outcome="resolver_error",service="veza-api"} 1',
      'veza_graphql_operations_total{operation_type="mutation",operation_name="Share",outcome="success",service="veza-api"} 2',
    ]);
    // The root fields resolve from the database concurrently: their series are in the order they ended.
    expect(lines(text, 'veza_graphql_resolver_duration_seconds_count').sort()).toEqual(
      [
        'veza_graphql_resolver_duration_seconds_count{service="veza-api",parent_type="Query",field="tracks"} 1',
        'veza_graphql_resolver_duration_seconds_count{service="veza-api",parent_type="Query",field="playlists"} 1',
        'veza_graphql_resolver_duration_seconds_count{service="veza-api",parent_type="Playlist",field="tracks"} 1',
        'veza_graphql_resolver_duration_seconds_count{service="veza-api",parent_type="Query",field="track"} 1',
        'veza_graphql_resolver_duration_seconds_count{service="veza-api",parent_type="Mutation",field="sharePlaylist"} 2',
      ].sort(),
    );
    expect(lines(text, 'veza_graphql_resolver_errors_total')).toEqual([
      'veza_graphql_resolver_errors_total{parent_type="Query",field="track",error_type="NotFoundException",service="veza-api"} 1',
    ]);
  });

  it('records the notifications microservice: one message delivered, one refused (an RpcException)', () => {
    expect(lines(text, 'veza_rpc_server_requests_total')).toEqual([
      'veza_rpc_server_requests_total{transport="tcp",pattern="notifications.send",kind="request",outcome="success",service="veza-api"} 1',
      'veza_rpc_server_requests_total{transport="tcp",pattern="notifications.send",kind="request",outcome="error",service="veza-api"} 1',
    ]);
    expect(lines(text, 'veza_rpc_server_duration_seconds_count')).toEqual([
      'veza_rpc_server_duration_seconds_count{service="veza-api",transport="tcp",pattern="notifications.send",kind="request"} 2',
    ]);
  });

  it('records the transcoding worker: one job completed, one failed (an undecodable upload), and the queue depth', () => {
    if (!redis) return;
    expect(lines(text, 'veza_queue_jobs_total')).toEqual([
      'veza_queue_jobs_total{queue="uploads",job="transcode",outcome="completed",service="veza-api"} 1',
      'veza_queue_jobs_total{queue="uploads",job="transcode",outcome="failed",service="veza-api"} 1',
    ]);
    expect(lines(text, 'veza_queue_job_duration_seconds_count')).toEqual([
      'veza_queue_job_duration_seconds_count{service="veza-api",queue="uploads",job="transcode"} 2',
    ]);
    expect(lines(text, 'veza_queue_jobs')).toEqual([
      'veza_queue_jobs{queue="uploads",state="waiting",service="veza-api"} 0',
      'veza_queue_jobs{queue="uploads",state="active",service="veza-api"} 0',
      'veza_queue_jobs{queue="uploads",state="delayed",service="veza-api"} 0',
      'veza_queue_jobs{queue="uploads",state="failed",service="veza-api"} 1',
    ]);
  });
});

describe('the sample app when its Redis hangs mid-run', () => {
  let redis: Broker | undefined;
  let app: INestApplication | undefined;

  afterAll(async () => {
    redis?.signal?.('SIGCONT');
    await app?.close();
    await redis?.stop();
  });

  it('stores an upload at once and serves /metrics without the queue depth; the job runs once Redis is back', async () => {
    redis = await startRedis();
    if (!redis?.signal) return;
    let url: string;
    ({ app, url } = await startHybrid('express', redis.url));
    const client = new SampleClient(url);
    const { token } = await client.signUp('hang');
    redis.signal('SIGSTOP');
    // The upload does not wait on Redis: the job is added in the background.
    const upload = await client.call('POST', '/uploads', { ...uploadBody(500), filename: 'late.mp3' }, token);
    expect(upload.status).toBe(201);
    const during = await scrape(url);
    expect(lines(during, 'veza_queue_jobs')).toEqual([]);
    expect(lines(during, 'veza_http_requests_total').length).toBeGreaterThan(0);
    redis.signal('SIGCONT');
    const after = await until(url, (t) => lines(t, 'veza_queue_jobs_total').length > 0);
    expect(lines(after, 'veza_queue_jobs_total')).toEqual([
      'veza_queue_jobs_total{queue="uploads",job="transcode",outcome="completed",service="veza-api"} 1',
    ]);
  });
});

describe('the sample app started as `npm run sample` starts it (startSampleApp), with no Redis', () => {
  let app: INestApplication | undefined;
  const saved = { ...process.env };

  afterEach(async () => {
    await app?.close();
    process.env = { ...saved };
  });

  it('says in a log line that uploads are not transcoded, and serves HTTP, GraphQL and /metrics', async () => {
    const closed = await freePort(); // nothing listens there
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    Object.assign(process.env, {
      REDIS_URL: `redis://127.0.0.1:${closed}`,
      PORT: '0',
      HOST: '127.0.0.1',
      NOTIFICATIONS_PORT: String(await freePort()),
      SAMPLE_ADAPTER: 'express',
    });
    let warnings: string[];
    try {
      app = await startSampleApp({ log() {}, error() {}, warn() {} });
    } finally {
      warnings = warn.mock.calls.map(([message]) => String(message));
      warn.mockRestore();
    }
    expect(warnings).toContain(
      `Redis at redis://127.0.0.1:${closed} does not answer: uploads are stored and not transcoded (start redis-server or set REDIS_URL, then restart)`,
    );
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    const round = await transportsRound(url);
    expect(round.notifications).toEqual({ success: 1, error: 1 });
    const metrics = await scrape(url);
    expect(lines(metrics, 'veza_graphql_operations_total')).toHaveLength(3);
    expect(metrics).not.toContain('veza_queue_');
  });

  it('redisAnswers: true for a real redis-server, false for a closed port', async () => {
    expect(await redisAnswers(`redis://127.0.0.1:${await freePort()}`, 500)).toBe(false);
    const redis = await startRedis();
    if (!redis) return;
    try {
      expect(await redisAnswers(redis.url)).toBe(true);
    } finally {
      await redis.stop();
    }
  });
});
