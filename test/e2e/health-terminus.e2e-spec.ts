/**
 * Issue #23, item 3: every indicator of every `HealthCheckService.check()` of @nestjs/terminus is
 * recorded under its key with `VezaMetricsModule.forRoot()` alone, on Express and Fastify: duration
 * in `veza_health_check_duration_ms{service}` (`_seconds` under strict naming), status in
 * `veza_health_check_status{service}` (1 up, 0.5 degraded or slower than `health.slowMs`, 0 down or
 * thrown). What the app answers (the check's result, the 503 of a down check, the 500 of a thrown
 * indicator) is compared byte for byte with the same app without the module.
 *
 * Against terminus 11.x with Nest 11, installed outside the repository (10.x has no
 * HealthIndicatorService, which these apps inject: its contract spec covers it):
 *   VEZA_PEERS_DIR=/tmp/v-term11 npx jest test/e2e/health-terminus.e2e-spec.ts --runInBand
 * (with @nestjs/terminus@11, @nestjs/common, core, testing, platform-express and platform-fastify @11,
 * reflect-metadata and rxjs installed in /tmp/v-term11). 11.x answers a thrown HealthCheckError with
 * 503 (12.x: 500) and has neither `degraded()` nor attempts (docs/health.md, "Terminus versions").
 */
import { Controller, Get, Injectable, Module, Param, type DynamicModule, type Type } from '@nestjs/common';
import {
  HealthCheck,
  HealthCheckService,
  HealthIndicatorService,
  TerminusModule,
  type HealthIndicatorResult,
} from '@nestjs/terminus';
import { TrackHealthCheck, VezaMetricsModule, type VezaMetricsModuleOptions } from '../../src';
import { installedVersion } from '../../src/compat/installed-version';
import { OTHER_SERVICE } from '../../src/health/health-check.recorder';
import { MAX_LABEL_VALUE_LENGTH } from '../../src/registry/series-guard';
import { ADAPTERS, scrape, startApp, type AdapterKind, type StartedApp } from '../utils/app';
import { parseExposition, sampleValue } from '../utils/exposition';
import { rawRequest } from '../utils/raw-http';

jest.setTimeout(120_000);

const DURATION = 'veza_health_check_duration_ms';
const STATUS = 'veza_health_check_status';
const major = Number((installedVersion('@nestjs/terminus') ?? '12').split('.')[0]);
/** What terminus answers a thrown HealthCheckError: 503 in 10.x and 11.x, 500 (a failed check) from 12.x. */
const THROWN = major >= 12 ? 500 : 503;

/** What terminus 10 and 11 threw for a failed indicator (gone in 12, which fails the whole check on it). */
class LegacyHealthCheckError extends Error {
  readonly isHealthCheckError = true;
  constructor(
    message: string,
    readonly causes: object,
  ) {
    super(message);
  }
}

@Injectable()
class DbIndicator {
  constructor(private readonly indicators: HealthIndicatorService) {}

  @TrackHealthCheck('db')
  isHealthy(): Promise<HealthIndicatorResult> {
    return Promise.resolve(this.indicators.check('db').up());
  }
}

/** The keys of a hostile indicator: 100 KB each, distinct within their first 256 units. */
function hostileKeys(round: string): string[] {
  return [0, 1, 2, 3].map((i) => `${round}-${i}-`.padEnd(100_000, 'x'));
}

@Controller('health')
class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly db: DbIndicator,
  ) {}

  @Get('storage')
  @HealthCheck()
  storage() {
    return this.health.check([() => this.indicators.check('storage').up({ free: '1 GB' })]);
  }

  @Get('down')
  @HealthCheck()
  down() {
    return this.health.check([
      () => this.indicators.check('storage').up(),
      () => Promise.resolve(this.indicators.check('queue').down({ message: 'connection refused' })),
    ]);
  }

  @Get('degraded')
  @HealthCheck()
  degraded() {
    return this.health.check([() => this.indicators.check('index').degraded('rebuilding')]);
  }

  @Get('attempt')
  @HealthCheck()
  attempt() {
    return this.health.check([
      this.indicators.check('cache').attempt(() => {
        throw new Error('cache unreachable');
      }),
      () => this.indicators.check('mailer').attempt(() => ({ queued: 0 })),
    ]);
  }

  @Get('thrown')
  @HealthCheck()
  thrown() {
    return this.health.check([
      () => this.indicators.check('storage').up(),
      () => {
        throw new LegacyHealthCheckError('payments down', {
          payments: { status: 'down', message: 'timeout' },
        });
      },
    ]);
  }

  @Get('unkeyed')
  @HealthCheck()
  unkeyed() {
    return this.health.check([() => Promise.reject<HealthIndicatorResult>(new Error('boom'))]);
  }

  @Get('hostile')
  @HealthCheck()
  hostile() {
    return this.health.check([
      () => this.indicators.check('storage').up(),
      // A result whose key throws when read: terminus fails the check on it (500), the recorder too, silently.
      () =>
        Object.defineProperty({}, 'storage', {
          enumerable: true,
          get() {
            throw new Error('getter');
          },
        }) as HealthIndicatorResult,
    ]);
  }

  @Get('slow')
  @HealthCheck()
  slow() {
    return this.health.check([
      async (): Promise<HealthIndicatorResult> => {
        // The indicator under test takes at least 60 ms; the app's threshold is 20 ms.
        await new Promise((resolve) => setTimeout(resolve, 60));
        return this.indicators.check('search').up();
      },
    ]);
  }

  @Get('decorated')
  @HealthCheck()
  decorated() {
    return this.health.check([() => this.db.isHealthy()]);
  }

  @Get('keys/:round')
  @HealthCheck()
  keys(@Param('round') round: string) {
    return this.health.check([
      () => Object.fromEntries(hostileKeys(round).map((k) => [k, { status: 'up' }])),
      () => this.indicators.check(OTHER_SERVICE).up(),
    ]);
  }
}

function appModule(options?: VezaMetricsModuleOptions): Type {
  const imports: (Type | DynamicModule)[] = [TerminusModule.forRoot({ logger: false })];
  if (options) imports.push(VezaMetricsModule.forRoot(options));
  @Module({ imports, controllers: [HealthController], providers: [DbIndicator] })
  class HealthApp {}
  return HealthApp;
}

const get = (app: StartedApp, path: string) => rawRequest(app.url, path);

describe.each(ADAPTERS)('terminus health checks on %s', (kind: AdapterKind) => {
  let bare: StartedApp;
  let main: StartedApp;
  let tuned: StartedApp;
  let off: StartedApp;

  beforeAll(async () => {
    bare = await startApp(kind, { imports: [appModule()] });
    main = await startApp(kind, { imports: [appModule({})] });
    tuned = await startApp(kind, {
      imports: [appModule({ naming: 'strict', health: { slowMs: 20, maxServices: 3 } })],
    });
    off = await startApp(kind, { imports: [appModule({ health: false })] });
  });

  afterAll(async () => {
    for (const app of [bare, main, tuned, off]) await app?.app.close();
  });

  it('two checks of storage: exactly 2 durations and status 1, with forRoot() alone', async () => {
    for (let i = 0; i < 2; i++) expect((await get(main, '/health/storage')).status).toBe(200);
    const text = await scrape(main.url);
    expect(sampleValue(text, `${DURATION}_count`, { service: 'storage' })).toBe(2);
    expect(sampleValue(text, `${DURATION}_bucket`, { service: 'storage', le: '+Inf' })).toBe(2);
    expect(sampleValue(text, STATUS, { service: 'storage' })).toBe(1);
  });

  it('answers exactly what the app answers without the module: results, 503, 500', async () => {
    for (const path of [
      '/health/storage',
      '/health/down',
      '/health/degraded',
      '/health/thrown',
      '/health/unkeyed',
      '/health/hostile',
    ]) {
      const [without, withModule] = [await get(bare, path), await get(main, path)];
      expect({ path, status: withModule.status, body: withModule.body }).toEqual({
        path,
        status: without.status,
        body: without.body,
      });
    }
    // The ones that fail, as terminus answers them.
    const down = await get(main, '/health/down');
    expect(down.status).toBe(503);
    expect(JSON.parse(down.body)).toEqual({
      status: 'error',
      info: { storage: { status: 'up' } },
      error: { queue: { status: 'down', message: 'connection refused' } },
      details: { storage: { status: 'up' }, queue: { status: 'down', message: 'connection refused' } },
    });
    expect((await get(main, '/health/thrown')).status).toBe(THROWN);
    expect((await get(main, '/health/unkeyed')).status).toBe(500);
    expect((await get(main, '/health/hostile')).status).toBe(500);
  });

  it('a down indicator is 0, its up neighbour 1; degraded is 0.5', async () => {
    expect((await get(main, '/health/down')).status).toBe(503);
    // `degraded()` is 12.x's.
    if (major >= 12) expect((await get(main, '/health/degraded')).status).toBe(200);
    const text = await scrape(main.url);
    expect(sampleValue(text, STATUS, { service: 'queue' })).toBe(0);
    expect(sampleValue(text, STATUS, { service: 'storage' })).toBe(1);
    if (major >= 12) expect(sampleValue(text, STATUS, { service: 'index' })).toBe(0.5);
  });

  it("terminus 12's attempts (one in the array, one returned) are timed; one that throws is 0", async () => {
    if (major < 12) return; // HealthCheckAttempt is 12.x's
    const before = await scrape(main.url);
    const count = (text: string, service: string) => sampleValue(text, `${DURATION}_count`, { service }) ?? 0;
    expect((await get(main, '/health/attempt')).status).toBe(503);
    const after = await scrape(main.url);
    expect(count(after, 'cache') - count(before, 'cache')).toBe(1);
    expect(count(after, 'mailer') - count(before, 'mailer')).toBe(1);
    expect(sampleValue(after, STATUS, { service: 'cache' })).toBe(0);
    expect(sampleValue(after, STATUS, { service: 'mailer' })).toBe(1);
  });

  it("a thrown HealthCheckError's causes are 0; a rejection that names no key is not recorded", async () => {
    const before = await scrape(main.url);
    const series = (text: string) => parseExposition(text).get(STATUS)?.samples.length ?? 0;
    expect((await get(main, '/health/thrown')).status).toBe(THROWN);
    const afterThrown = await scrape(main.url);
    expect(sampleValue(afterThrown, STATUS, { service: 'payments' })).toBe(0);
    expect((await get(main, '/health/unkeyed')).status).toBe(500);
    const afterUnkeyed = await scrape(main.url);
    expect(series(afterUnkeyed)).toBe(series(afterThrown));
    const payments = (text: string) => sampleValue(text, `${DURATION}_count`, { service: 'payments' }) ?? 0;
    expect(payments(afterThrown) - payments(before)).toBe(1);
    expect(payments(afterUnkeyed)).toBe(payments(afterThrown));
  });

  it('an indicator decorated with @TrackHealthCheck is recorded once, by the decorator', async () => {
    expect((await get(main, '/health/decorated')).status).toBe(200);
    expect((await get(main, '/health/decorated')).status).toBe(200);
    const text = await scrape(main.url);
    expect(sampleValue(text, `${DURATION}_count`, { service: 'db' })).toBe(2);
    expect(sampleValue(text, STATUS, { service: 'db' })).toBe(1);
  });

  it('health: false records nothing (and the app answers the same)', async () => {
    expect((await get(off, '/health/storage')).status).toBe(200);
    expect((await get(off, '/health/down')).status).toBe(503);
    const text = await scrape(off.url);
    expect(parseExposition(text).get(STATUS)?.samples ?? []).toEqual([]);
    expect(sampleValue(text, `${DURATION}_count`, { service: 'storage' })).toBeUndefined();
  });

  it('strict naming: seconds in veza_health_check_duration_seconds, no _ms family', async () => {
    expect((await get(tuned, '/health/storage')).status).toBe(200);
    const text = await scrape(tuned.url);
    expect(sampleValue(text, 'veza_health_check_duration_seconds_count', { service: 'storage' })).toBe(1);
    expect(
      sampleValue(text, 'veza_health_check_duration_seconds_bucket', { service: 'storage', le: '0.001' }),
    ).toBeDefined();
    expect(sampleValue(text, `${DURATION}_count`, { service: 'storage' })).toBeUndefined();
    expect(text).not.toContain(`${DURATION}_`);
  });

  it('an indicator slower than health.slowMs is 0.5', async () => {
    expect((await get(tuned, '/health/slow')).status).toBe(200);
    const text = await scrape(tuned.url);
    expect(sampleValue(text, STATUS, { service: 'search' })).toBe(0.5);
    expect(
      sampleValue(text, 'veza_health_check_duration_seconds_bucket', { service: 'search', le: '0.05' }),
    ).toBe(0);
  });

  it('hostile keys (100 KB, 20 distinct, `<other>` itself) never go past maxServices', async () => {
    // storage and search took two of the three slots above.
    for (let round = 0; round < 5; round++)
      expect((await get(tuned, `/health/keys/${round}`)).status).toBe(200);
    const text = await scrape(tuned.url);
    const services = (parseExposition(text).get(STATUS)?.samples ?? []).map((s) => s.labels.service);
    expect(services).toHaveLength(4);
    expect(services).toEqual(expect.arrayContaining(['storage', 'search', OTHER_SERVICE]));
    const kept = services.filter((s) => s !== 'storage' && s !== 'search' && s !== OTHER_SERVICE);
    expect(kept).toHaveLength(1);
    expect(kept[0]).toHaveLength(MAX_LABEL_VALUE_LENGTH);
    expect(kept[0].startsWith('0-0-')).toBe(true);
    // 5 rounds of 5 keys, one slot taken: 24 recordings under <other> (the literal `<other>` key included).
    expect(sampleValue(text, 'veza_health_check_duration_seconds_count', { service: OTHER_SERVICE })).toBe(
      24,
    );
    expect(text.length).toBeLessThan(200_000);
  });
});
