/* eslint-disable @typescript-eslint/only-throw-error -- a hostile error object is thrown on purpose */
/**
 * Issue #12, item 7, in real applications over HTTP on both adapters: services whose decorated
 * methods return or throw hostile objects (a Proxy that throws on unknown keys, a revoked Proxy, an
 * error whose getters throw, the same lazy thenable on every call). The route handler compares
 * what it got with what the method gave; /metrics shows what was recorded.
 */
import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { CountErrors, CountLogin, CountOrder, TrackDbQuery, VezaMetric, VezaMetricsModule } from '../../src';
import { ADAPTERS, scrape, startApp, type AdapterKind } from '../utils/app';
import { sampleValue } from '../utils/exposition';

const boom = new Error('hostile read');
const thrower = (): never => {
  throw boom;
};

@Injectable()
class HostileService {
  readonly strict = new Proxy(
    { id: 1 },
    { get: (t, k) => (k in t ? (t as Record<PropertyKey, unknown>)[k] : thrower()) },
  );
  readonly revoked = (() => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  })();
  readonly error = ['stack', 'message', 'name', 'code', 'constructor'].reduce(
    (e, k) => Object.defineProperty(e, k, { get: thrower, configurable: true }),
    new Error('x') as object,
  );
  runs = 0;
  readonly lazy = {
    then: (ok: (v: number) => unknown, ko: (e: unknown) => unknown): Promise<unknown> => {
      this.runs += 1;
      return Promise.resolve(this.runs).then(ok, ko);
    },
  };

  @CountOrder()
  @CountLogin()
  strictProxy(): unknown {
    return this.strict;
  }

  @CountOrder()
  @CountLogin()
  revokedProxy(): unknown {
    return this.revoked;
  }

  @CountErrors()
  @CountLogin()
  hostileError(): never {
    throw this.error;
  }

  @TrackDbQuery('select', 'lazy')
  query(): unknown {
    return this.lazy;
  }
}

@Controller('hostile')
class HostileController {
  constructor(private readonly service: HostileService) {}

  @Get('proxy')
  proxy(): { same: boolean } {
    return { same: this.service.strictProxy() === this.service.strict };
  }

  @Get('revoked')
  revoked(): { same: boolean } {
    return { same: this.service.revokedProxy() === this.service.revoked };
  }

  @Get('error')
  error(): { same: boolean } {
    try {
      this.service.hostileError();
      return { same: false };
    } catch (caught) {
      return { same: caught === this.service.error };
    }
  }

  @Get('lazy')
  async lazy(): Promise<{ value: number; untouched: boolean }> {
    const { lazy } = this.service;
    const then = Object.getOwnPropertyDescriptor(lazy, 'then');
    const query = this.service.query();
    // Between the return and the await, the object is as it was: no `then` of ours on it.
    const untouched =
      Object.getOwnPropertyDescriptor(lazy, 'then')?.value === then?.value && Object.keys(lazy).length === 1;
    const value = (await query) as number;
    return { value, untouched };
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, http: false })],
  controllers: [HostileController],
  providers: [HostileService],
})
class HostileModule {}

describe.each(ADAPTERS)('hostile return values over HTTP on %s (issue #12, item 7)', (kind: AdapterKind) => {
  let app: INestApplication;
  let url: string;

  beforeAll(async () => {
    ({ app, url } = await startApp(kind, { imports: [HostileModule] }));
  });
  afterAll(async () => {
    await app?.close();
  });

  const get = async (path: string): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(url + path);
    return { status: res.status, body: await res.json() };
  };

  it('the caller gets the very Proxy, revoked Proxy and error the method gave; each call recorded as undecorated', async () => {
    for (let i = 0; i < 3; i++) {
      expect(await get('/hostile/proxy')).toEqual({ status: 200, body: { same: true } });
      expect(await get('/hostile/revoked')).toEqual({ status: 200, body: { same: true } });
      expect(await get('/hostile/error')).toEqual({ status: 200, body: { same: true } });
    }
    const text = await scrape(url);
    expect(sampleValue(text, VezaMetric.LoginAttempts, { success: 'success' })).toBe(6);
    expect(sampleValue(text, VezaMetric.LoginAttempts, { success: 'failure' })).toBe(3);
    expect(sampleValue(text, VezaMetric.CommerceOrders, { status: 'completed' })).toBe(6);
    expect(sampleValue(text, VezaMetric.Errors, { type: 'Error', severity: 'error' })).toBe(3);
    expect(sampleValue(text, 'veza_metrics_instrumentation_errors_total')).toBeUndefined();
  });

  it('the same lazy thenable returned 2,000 times: run once per request, recorded once per request, nothing written on it', async () => {
    const requests = 2000;
    for (let i = 1; i <= requests; i++) {
      const res = await get('/hostile/lazy');
      expect(res).toEqual({ status: 200, body: { value: i, untouched: true } });
    }
    const text = await scrape(url);
    expect(
      sampleValue(text, `${VezaMetric.DatabaseQueryDuration}_count`, { operation: 'select', table: 'lazy' }),
    ).toBe(requests);
  }, 120_000);
});
