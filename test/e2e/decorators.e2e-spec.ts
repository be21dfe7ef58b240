/**
 * The decorators in real applications, over real HTTP on both adapters: route handlers and the
 * services behind them, role guards around them, singleton, request-scoped and transient instances,
 * two applications in one process, calls before start-up and on objects Nest did not create. Every
 * assertion reads /metrics.
 */
import {
  Body,
  Controller,
  ForbiddenException,
  Get,
  HttpCode,
  Injectable,
  Module,
  Post,
  Scope,
  SetMetadata,
  UnauthorizedException,
  UseGuards,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { FastifyAdapter } from '@nestjs/platform-fastify';
import { of, type Observable } from 'rxjs';
import {
  CountCacheLookup,
  CountErrors,
  CountLogin,
  CountOrder,
  CountPlaylistCreated,
  CountRateLimitHit,
  CountTrackUploaded,
  CountUserRegistered,
  CountWebSocketMessage,
  Counted,
  GaugeSource,
  TimeCheckout,
  TrackDbQuery,
  TrackHealthCheck,
  TrackLiveStream,
  TrackLiveViewers,
  TrackSession,
  TrackTransferRetry,
  TrackUpload,
  VEZA_CATALOG,
  VezaMetric,
  VezaMetricsModule,
} from '../../src';
import { ADAPTERS, scrape, startApp, type AdapterKind } from '../utils/app';
import { sampleValue } from '../utils/exposition';

// Each test starts a Nest app on a loaded machine: the first one also waits for ts-jest to compile
// the library (timed out at the default 5 s under a load average of 13).
jest.setTimeout(60_000);

const Roles = (...roles: string[]) => SetMetadata('roles', roles);

@Injectable()
class RolesGuard implements CanActivate {
  constructor(private readonly reflector: Reflector) {}
  canActivate(context: ExecutionContext): boolean {
    const roles = this.reflector.get<string[] | undefined>('roles', context.getHandler());
    if (!roles) return true;
    const request = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>();
    if (!roles.includes(request.headers['x-role'] ?? '')) throw new ForbiddenException();
    return true;
  }
}

@Injectable()
export class AuthService {
  @CountLogin({ isSuccess: (token) => token !== null })
  async login(email: string, password: string): Promise<string | null> {
    await Promise.resolve();
    if (password === 'throw') throw new UnauthorizedException();
    return password === 'secret' ? `token-${email}` : null;
  }
}

@Injectable({ scope: Scope.REQUEST })
class RequestScopedRepository {
  @TrackDbQuery('select', 'scoped')
  async find(): Promise<string> {
    return Promise.resolve('row');
  }
}

@Injectable({ scope: Scope.TRANSIENT })
class TransientCache {
  private readonly entries = new Map([['hit', 'value']]);
  @CountCacheLookup('transient')
  get(key: string): string | undefined {
    return this.entries.get(key);
  }
}

const visits = (name: string) =>
  Counted({
    name: `test_${name}_total`,
    help: `Calls of ${name}`,
    labelNames: ['outcome'],
    labels: ({ outcome }) => ({ outcome }),
  });

@Controller()
class ShopController {
  constructor(
    private readonly auth: AuthService,
    private readonly cache: TransientCache,
  ) {}

  @Post('auth/login')
  @HttpCode(200)
  async login(@Body() body: { email: string; password: string }): Promise<{ token: string }> {
    const token = await this.auth.login(body.email, body.password);
    if (token === null) throw new UnauthorizedException();
    return { token };
  }

  @Post('orders')
  @CountOrder()
  @TimeCheckout()
  order(@Body() body: { status?: string; fail?: boolean }): { status: string } {
    if (body.fail) throw new ForbiddenException('card declined');
    return { status: body.status ?? 'pending' };
  }

  // The decorator above the role metadata...
  @Get('admin/above')
  @visits('above')
  @Roles('admin')
  @UseGuards(RolesGuard)
  above(): string {
    return 'above';
  }

  // ...and below it.
  @Get('admin/below')
  @UseGuards(RolesGuard)
  @Roles('admin')
  @CountErrors()
  @visits('below')
  below(): string {
    return 'below';
  }

  @Get('stream')
  @visits('stream')
  stream(): Observable<string> {
    return of('a', 'b');
  }

  @Get('cache/:key')
  cached(): { hit: boolean } {
    return { hit: this.cache.get('hit') !== undefined };
  }
}

@Controller({ path: 'scoped', scope: Scope.REQUEST })
class ScopedController {
  constructor(
    private readonly repository: RequestScopedRepository,
    private readonly cache: TransientCache,
  ) {}

  @Get()
  @visits('scoped')
  async list(): Promise<string> {
    this.cache.get('miss');
    return this.repository.find();
  }
}

@Module({
  imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })],
  controllers: [ShopController, ScopedController],
  providers: [AuthService, RequestScopedRepository, TransientCache, RolesGuard],
})
class ShopModule {}

const post = (url: string, body: unknown) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe.each(ADAPTERS)('decorators over HTTP (%s)', (kind: AdapterKind) => {
  it('services and route handlers are measured; the caller gets what the handler gives', async () => {
    const { app, url } = await startApp(kind, { imports: [ShopModule] });
    try {
      expect((await post(`${url}/auth/login`, { email: 'a', password: 'secret' })).status).toBe(200);
      expect((await post(`${url}/auth/login`, { email: 'a', password: 'wrong' })).status).toBe(401);
      expect((await post(`${url}/auth/login`, { email: 'a', password: 'throw' })).status).toBe(401);
      const order = await post(`${url}/orders`, { status: 'completed' });
      expect(order.status).toBe(201);
      expect(await order.json()).toEqual({ status: 'completed' });
      await post(`${url}/orders`, {});
      const declined = await post(`${url}/orders`, { fail: true });
      expect(declined.status).toBe(403);
      expect(((await declined.json()) as { message: string }).message).toBe('card declined');
      const stream = await fetch(`${url}/stream`);
      expect(await stream.text()).toBe('b');
      const text = await scrape(url);
      expect(sampleValue(text, 'veza_auth_login_attempts_total', { success: 'success' })).toBe(1);
      expect(sampleValue(text, 'veza_auth_login_attempts_total', { success: 'failure' })).toBe(2);
      expect(sampleValue(text, 'veza_commerce_orders_total', { status: 'completed' })).toBe(1);
      expect(sampleValue(text, 'veza_commerce_orders_total', { status: 'pending' })).toBe(1);
      expect(sampleValue(text, 'veza_commerce_orders_total', { status: 'failed' })).toBe(1);
      expect(sampleValue(text, 'veza_commerce_checkout_duration_seconds_count')).toBe(3);
      expect(sampleValue(text, 'test_stream_total', { outcome: 'success' })).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('a role guard reading SetMetadata still answers 403 with the decorator above or below the role metadata', async () => {
    const { app, url } = await startApp(kind, { imports: [ShopModule] });
    try {
      for (const route of ['above', 'below']) {
        expect((await fetch(`${url}/admin/${route}`)).status).toBe(403);
        expect((await fetch(`${url}/admin/${route}`, { headers: { 'x-role': 'user' } })).status).toBe(403);
        const allowed = await fetch(`${url}/admin/${route}`, { headers: { 'x-role': 'admin' } });
        expect(allowed.status).toBe(200);
        expect(await allowed.text()).toBe(route);
      }
      const text = await scrape(url);
      // The guard refused before the handler ran: only the allowed calls are counted.
      expect(sampleValue(text, 'test_above_total', { outcome: 'success' })).toBe(1);
      expect(sampleValue(text, 'test_below_total', { outcome: 'success' })).toBe(1);
      expect(sampleValue(text, 'test_above_total', { outcome: 'failure' })).toBeUndefined();
      expect(sampleValue(text, 'veza_errors_total', { type: 'ForbiddenException' })).toBeUndefined();
    } finally {
      await app.close();
    }
  });

  it('request-scoped and transient instances are measured, per request', async () => {
    const { app, url } = await startApp(kind, { imports: [ShopModule] });
    try {
      for (let i = 0; i < 3; i++) expect(await (await fetch(`${url}/scoped`)).text()).toBe('row');
      await fetch(`${url}/cache/x`);
      const text = await scrape(url);
      expect(sampleValue(text, 'test_scoped_total', { outcome: 'success' })).toBe(3);
      expect(
        sampleValue(text, 'veza_database_query_duration_seconds_count', {
          operation: 'select',
          table: 'scoped',
        }),
      ).toBe(3);
      // The transient cache of each request-scoped controller (3 misses) and the singleton's one (1 hit).
      expect(sampleValue(text, 'veza_cache_misses_total', { subsystem: 'transient' })).toBe(3);
      expect(sampleValue(text, 'veza_cache_hits_total', { subsystem: 'transient' })).toBe(1);
    } finally {
      await app.close();
    }
  });

  it('two applications in one process keep their counts apart', async () => {
    const a = await startApp(kind, { imports: [ShopModule] });
    const b = await startApp(kind, { imports: [ShopModule] });
    try {
      await post(`${a.url}/auth/login`, { email: 'a', password: 'secret' });
      await post(`${a.url}/auth/login`, { email: 'a', password: 'secret' });
      await post(`${b.url}/auth/login`, { email: 'b', password: 'wrong' });
      await fetch(`${b.url}/scoped`);
      const textA = await scrape(a.url);
      const textB = await scrape(b.url);
      expect(sampleValue(textA, 'veza_auth_login_attempts_total', { success: 'success' })).toBe(2);
      expect(sampleValue(textA, 'veza_auth_login_attempts_total', { success: 'failure' })).toBeUndefined();
      expect(sampleValue(textB, 'veza_auth_login_attempts_total', { success: 'success' })).toBeUndefined();
      expect(sampleValue(textB, 'veza_auth_login_attempts_total', { success: 'failure' })).toBe(1);
      expect(sampleValue(textA, 'test_scoped_total', { outcome: 'success' })).toBeUndefined();
      expect(sampleValue(textB, 'test_scoped_total', { outcome: 'success' })).toBe(1);
    } finally {
      await a.app.close();
      await b.app.close();
    }
  });

  it('calls before start-up, on objects Nest did not create, and after close run normally and record nothing', async () => {
    const moduleRef = await Test.createTestingModule({ imports: [ShopModule] }).compile();
    const auth = moduleRef.get(AuthService);
    expect(await auth.login('early', 'secret')).toBe('token-early');
    const app =
      kind === 'express'
        ? moduleRef.createNestApplication({ logger: false })
        : moduleRef.createNestApplication(new FastifyAdapter(), { logger: false });
    await app.listen(0, '127.0.0.1');
    const url = (await app.getUrl()).replace('[::1]', '127.0.0.1').replace('localhost', '127.0.0.1');
    try {
      expect(await new AuthService().login('plain', 'secret')).toBe('token-plain');
      await expect(new AuthService().login('plain', 'throw')).rejects.toThrow(UnauthorizedException);
      expect(
        sampleValue(await scrape(url), 'veza_auth_login_attempts_total', { success: 'success' }),
      ).toBeUndefined();
      expect(await auth.login('late', 'secret')).toBe('token-late');
      expect(sampleValue(await scrape(url), 'veza_auth_login_attempts_total', { success: 'success' })).toBe(
        1,
      );
    } finally {
      await app.close();
    }
    expect(await auth.login('closed', 'secret')).toBe('token-closed');
  });
});

/** One method per decorator, and a scrape-time source for each gauge no decorator moves. */
@Injectable()
class Everything {
  @CountLogin() login() {}
  @TrackSession('open') openSession() {}
  @TrackDbQuery('select', 'tracks') query(fail: boolean) {
    if (fail) throw new Error('x');
  }
  @TrackUpload({ type: 'audio', size: () => 2048 }) upload(fail: boolean) {
    if (fail) throw new Error('x');
  }
  @CountTrackUploaded() @CountUserRegistered() @CountPlaylistCreated() create() {}
  @CountOrder() @TimeCheckout() checkout() {
    return { status: 'completed' };
  }
  @TrackTransferRetry({ isPermanent: (e) => (e as Error).message === 'final' }) retry(outcome: string) {
    if (outcome !== 'ok') throw new Error(outcome);
  }
  @TrackHealthCheck('database') health() {}
  @TrackLiveStream('start') startStream() {}
  @TrackLiveViewers('join') join() {}
  @CountCacheLookup('tracks') lookup(key: string) {
    return key === 'hit' ? 1 : undefined;
  }
  @CountErrors() fail() {
    throw new Error('x');
  }
  @CountWebSocketMessage('chat') message() {}
  @CountRateLimitHit('/auth/login', 'failed_logins', { isHit: () => true }) limit() {}
  @GaugeSource(VezaMetric.DatabaseConnectionsActive) connections() {
    return 5;
  }
  @GaugeSource(VezaMetric.ActiveUsers) users() {
    return 7;
  }
  @GaugeSource(VezaMetric.WebSocketConnectionsActive) sockets() {
    return 2;
  }
}

@Controller('everything')
class EverythingController {
  constructor(private readonly e: Everything) {}
  @Post()
  @HttpCode(204)
  run(): void {
    const e = this.e;
    const attempt = (f: () => unknown) => {
      try {
        f();
      } catch {
        // expected: the failures are what is counted
      }
    };
    e.login();
    e.openSession();
    e.query(false);
    attempt(() => e.query(true));
    e.upload(false);
    attempt(() => e.upload(true));
    e.create();
    e.checkout();
    for (const outcome of ['ok', 'again', 'final']) attempt(() => e.retry(outcome));
    e.health();
    e.startStream();
    e.join();
    e.lookup('hit');
    e.lookup('miss');
    attempt(() => e.fail());
    e.message();
    e.limit();
  }
}

describe.each(ADAPTERS)('catalog coverage (%s)', (kind) => {
  it('every catalog metric is written by a decorator, a scrape-time source or the HTTP recorder', async () => {
    const { app, url } = await startApp(kind, {
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })],
      controllers: [EverythingController],
      providers: [Everything],
    });
    try {
      expect((await fetch(`${url}/everything`, { method: 'POST' })).status).toBe(204);
      const text = await scrape(url);
      const written = VEZA_CATALOG.map((row) => {
        const name = row.kind === 'histogram' ? `${row.name}_count` : row.name;
        const values = text
          .split('\n')
          .filter((line) => line.startsWith(`${name} `) || line.startsWith(`${name}{`))
          .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
        return [row.name, values.some((v) => v > 0)] as const;
      });
      expect(written.filter(([, ok]) => !ok).map(([name]) => name)).toEqual([]);
      expect(written).toHaveLength(30);
    } finally {
      await app.close();
    }
  });
});
