/* eslint-disable @typescript-eslint/require-await, @typescript-eslint/only-throw-error -- methods under test: async without await on purpose, and they throw whatever they are given */
import { BadRequestException, HttpException, HttpStatus } from '@nestjs/common';
import { lastValueFrom, of, throwError } from 'rxjs';
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
  TimeCheckout,
  TrackDbQuery,
  TrackHealthCheck,
  TrackLiveStream,
  TrackLiveViewers,
  TrackSession,
  TrackTransferRetry,
  TrackUpload,
  VezaMetric,
} from '../../../src';
import { harness } from './harness';

class QueryError extends Error {
  constructor(readonly code?: unknown) {
    super('query failed: duplicate key value violates unique constraint "users_email_key" (id 1234)');
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

class Veza {
  @CountLogin()
  login(ok: boolean): string {
    if (!ok) throw new Error('bad credentials');
    return 'token';
  }

  @CountLogin({ isSuccess: (user) => user !== null })
  async loginOrNull(ok: boolean): Promise<string | null> {
    return ok ? 'user' : null;
  }

  @TrackSession('open')
  openSession(fail = false): void {
    if (fail) throw new Error('no');
  }

  @TrackSession('close')
  closeSession(): void {}

  @TrackDbQuery('select', 'tracks')
  async findTrack(error?: unknown): Promise<number> {
    if (error) throw error;
    return 1;
  }

  @TrackDbQuery('insert', 'users', { errorType: () => 'unique_violation' })
  insertUser(): void {
    throw new QueryError('23505');
  }

  @TrackUpload<[{ kind: string; bytes: number }]>({
    type: (file) => file.kind,
    size: ({ args: [file] }) => file.bytes,
  })
  upload(file: { kind: string; bytes: number }, error?: unknown): { id: string } {
    if (error) throw error;
    return { id: file.kind };
  }

  @TrackUpload({
    type: 'image',
    size: ({ result }) => (result as { size: number }).size,
    failureReason: () => 'ClamAV',
  })
  async scannedUpload(infected: boolean): Promise<{ size: number }> {
    if (infected) throw new Error('virus found');
    return { size: 3000 };
  }

  @CountTrackUploaded()
  @CountUserRegistered()
  @CountPlaylistCreated()
  createEverything(fail = false): void {
    if (fail) throw new Error('no');
  }

  @CountOrder()
  @TimeCheckout()
  async checkout(status?: string): Promise<{ status?: string }> {
    if (status === 'throw') throw new Error('card declined');
    return status ? { status } : {};
  }

  @TrackTransferRetry({
    isPermanent: (e) => (e as Error).message === 'max retries',
    isSuccess: (r) => r !== false,
  })
  retry(outcome: 'ok' | 'fail' | 'permanent' | 'false'): boolean {
    if (outcome === 'fail') throw new Error('timeout');
    if (outcome === 'permanent') throw new Error('max retries');
    return outcome !== 'false';
  }

  @TrackHealthCheck('database', { slowMs: 20 })
  async checkDatabase(mode: 'ok' | 'slow' | 'down' | 'throw' | 'degraded'): Promise<unknown> {
    if (mode === 'throw') throw new Error('unreachable');
    if (mode === 'slow') await sleep(40);
    if (mode === 'down' || mode === 'degraded') return { database: { status: mode } };
    return { database: { status: 'up' } };
  }

  @TrackLiveStream('start')
  startStream(): void {}

  @TrackLiveStream('end')
  endStream(): void {}

  @TrackLiveViewers('join')
  join(): void {}

  @TrackLiveViewers('leave')
  leave(): void {}

  @CountCacheLookup('tracks')
  cached(key: string): string | undefined {
    if (key === 'boom') throw new Error('cache down');
    return key === 'hit' ? 'value' : undefined;
  }

  @CountCacheLookup('users', { isHit: (r: { found: boolean }) => r.found })
  cachedUser(found: boolean): { found: boolean } {
    return { found };
  }

  @CountErrors()
  failing(error: unknown): void {
    throw error;
  }

  @CountErrors({ type: (e) => (e instanceof HttpException ? 'http' : 'internal'), severity: 'critical' })
  critical(error?: unknown): string {
    if (error) throw error;
    return 'fine';
  }

  @CountWebSocketMessage('chat', { status: (r: { accepted: boolean }) => (r.accepted ? 'ok' : 'rejected') })
  onChat(accepted: boolean | 'throw'): { accepted: boolean } {
    if (accepted === 'throw') throw new Error('bad frame');
    return { accepted };
  }

  @CountRateLimitHit('/auth/login', 'failed_logins', { isHit: (allowed) => !allowed })
  allow(allowed: boolean | 'throw429' | 'throw500'): boolean {
    if (allowed === 'throw429') throw new HttpException('slow down', HttpStatus.TOO_MANY_REQUESTS);
    if (allowed === 'throw500') throw new Error('limiter store down');
    return allowed;
  }
}

describe('each catalog decorator writes its metrics exactly', () => {
  let veza: Veza;
  let h: ReturnType<typeof harness>;
  beforeEach(() => {
    veza = new Veza();
    h = harness([veza]);
  });
  afterEach(() => h.close());

  it('@CountLogin: success when it returns, failure when it throws or isSuccess says no', async () => {
    veza.login(true);
    expect(() => veza.login(false)).toThrow('bad credentials');
    await veza.loginOrNull(true);
    await veza.loginOrNull(false);
    expect(await h.value(VezaMetric.LoginAttempts, { success: 'success' })).toBe(2);
    expect(await h.value(VezaMetric.LoginAttempts, { success: 'failure' })).toBe(2);
  });

  it('@TrackSession: up on open, down on close, nothing when it throws', async () => {
    veza.openSession();
    veza.openSession();
    expect(() => veza.openSession(true)).toThrow('no');
    veza.closeSession();
    expect(await h.value(VezaMetric.SessionsActive)).toBe(1);
  });

  it('@TrackDbQuery: duration on success and failure, errors by bounded type (code, else class name)', async () => {
    await veza.findTrack();
    await expect(veza.findTrack(new QueryError('ER_DUP_ENTRY'))).rejects.toThrow(QueryError);
    await expect(veza.findTrack(new QueryError())).rejects.toThrow(QueryError);
    await expect(veza.findTrack(new QueryError(1062))).rejects.toThrow(QueryError);
    await expect(veza.findTrack('a string')).rejects.toBe('a string');
    expect(() => veza.insertUser()).toThrow(QueryError);
    const tracks = await h.histogram(VezaMetric.DatabaseQueryDuration, {
      operation: 'select',
      table: 'tracks',
    });
    expect(tracks?.count).toBe(5);
    const errors = VezaMetric.DatabaseQueryErrors;
    expect(await h.value(errors, { operation: 'select', error_type: 'ER_DUP_ENTRY' })).toBe(1);
    expect(await h.value(errors, { operation: 'select', error_type: 'QueryError' })).toBe(1);
    expect(await h.value(errors, { operation: 'select', error_type: '1062' })).toBe(1);
    expect(await h.value(errors, { operation: 'select', error_type: 'OtherError' })).toBe(1);
    expect(await h.value(errors, { operation: 'insert', error_type: 'unique_violation' })).toBe(1);
    expect(
      (await h.histogram(VezaMetric.DatabaseQueryDuration, { operation: 'insert', table: 'users' }))?.count,
    ).toBe(1);
  });

  it('@TrackUpload: uploads by type and status, size on success, bounded failure reasons', async () => {
    veza.upload({ kind: 'audio', bytes: 5000 });
    veza.upload({ kind: 'audio', bytes: 1000 });
    expect(() => veza.upload({ kind: 'audio', bytes: 1 }, new BadRequestException('not audio'))).toThrow(
      BadRequestException,
    );
    expect(() => veza.upload({ kind: 'audio', bytes: 1 }, new HttpException('too big', 413))).toThrow(
      HttpException,
    );
    expect(() =>
      veza.upload({ kind: 'audio', bytes: 1 }, Object.assign(new Error('x'), { reason: 'ClamAV' })),
    ).toThrow('x');
    expect(() => veza.upload({ kind: 'audio', bytes: 1 }, new Error('disk'))).toThrow('disk');
    await veza.scannedUpload(false);
    await expect(veza.scannedUpload(true)).rejects.toThrow('virus found');
    expect(await h.value(VezaMetric.FileUploads, { type: 'audio', status: 'success' })).toBe(2);
    expect(await h.value(VezaMetric.FileUploads, { type: 'audio', status: 'failure' })).toBe(4);
    expect(await h.value(VezaMetric.FileUploads, { type: 'image', status: 'success' })).toBe(1);
    expect(await h.value(VezaMetric.FileUploads, { type: 'image', status: 'failure' })).toBe(1);
    expect(await h.histogram(VezaMetric.FileUploadSize, { type: 'audio' })).toEqual({ count: 2, sum: 6000 });
    expect(await h.histogram(VezaMetric.FileUploadSize, { type: 'image' })).toEqual({ count: 1, sum: 3000 });
    expect(await h.value(VezaMetric.UploadsFailed, { reason: 'validation' })).toBe(1);
    expect(await h.value(VezaMetric.UploadsFailed, { reason: 'quota' })).toBe(1);
    expect(await h.value(VezaMetric.UploadsFailed, { reason: 'ClamAV' })).toBe(2);
    expect(await h.value(VezaMetric.UploadsFailed, { reason: 'other' })).toBe(1);
  });

  it('@CountTrackUploaded, @CountUserRegistered, @CountPlaylistCreated: on success only, stacked', async () => {
    veza.createEverything();
    expect(() => veza.createEverything(true)).toThrow('no');
    for (const name of [VezaMetric.TracksUploaded, VezaMetric.UsersRegistered, VezaMetric.PlaylistsCreated]) {
      expect(await h.value(name)).toBe(1);
    }
  });

  it('@CountOrder and @TimeCheckout: status from the result, failed when it throws; every checkout timed', async () => {
    await veza.checkout('pending');
    await veza.checkout('pending');
    await veza.checkout();
    await expect(veza.checkout('throw')).rejects.toThrow('card declined');
    expect(await h.value(VezaMetric.CommerceOrders, { status: 'pending' })).toBe(2);
    expect(await h.value(VezaMetric.CommerceOrders, { status: 'completed' })).toBe(1);
    expect(await h.value(VezaMetric.CommerceOrders, { status: 'failed' })).toBe(1);
    expect((await h.histogram(VezaMetric.CommerceCheckoutDuration))?.count).toBe(4);
  });

  it('@TrackTransferRetry: one attempt per call, then success, failure or permanent failure', async () => {
    veza.retry('ok');
    veza.retry('false');
    expect(() => veza.retry('fail')).toThrow('timeout');
    expect(() => veza.retry('permanent')).toThrow('max retries');
    expect(await h.value(VezaMetric.TransferRetries)).toBe(4);
    expect(await h.value(VezaMetric.TransferRetrySuccesses)).toBe(1);
    expect(await h.value(VezaMetric.TransferRetryFailures)).toBe(2);
    expect(await h.value(VezaMetric.TransferRetryPermanentFailures)).toBe(1);
  });

  it('@TrackHealthCheck: 1 ok, 0.5 slow or degraded, 0 when it throws or says down; duration in ms', async () => {
    const status = () => h.value(VezaMetric.HealthCheckStatus, { service: 'database' });
    await veza.checkDatabase('ok');
    expect(await status()).toBe(1);
    await veza.checkDatabase('slow');
    expect(await status()).toBe(0.5);
    await veza.checkDatabase('degraded');
    expect(await status()).toBe(0.5);
    await veza.checkDatabase('down');
    expect(await status()).toBe(0);
    await expect(veza.checkDatabase('throw')).rejects.toThrow('unreachable');
    expect(await status()).toBe(0);
    const duration = await h.histogram(VezaMetric.HealthCheckDuration, { service: 'database' });
    expect(duration?.count).toBe(5);
    expect(duration?.sum).toBeGreaterThanOrEqual(39); // the slow one slept 40 ms; observed in milliseconds
    expect(duration?.sum).toBeLessThan(5000);
  });

  it('@TrackHealthCheck under strict naming observes seconds in veza_health_check_duration_seconds', async () => {
    const strict = new Veza();
    const s = harness([strict], { naming: 'strict' });
    try {
      await strict.checkDatabase('slow');
      const duration = await s.histogram('veza_health_check_duration_seconds', { service: 'database' });
      expect(duration?.count).toBe(1);
      expect(duration?.sum).toBeGreaterThanOrEqual(0.039);
      expect(duration?.sum).toBeLessThan(5);
    } finally {
      s.close();
    }
  });

  it('@TrackLiveStream and @TrackLiveViewers move their gauges', async () => {
    veza.startStream();
    veza.startStream();
    veza.endStream();
    veza.join();
    veza.join();
    veza.join();
    veza.leave();
    expect(await h.value(VezaMetric.LiveStreamsActive)).toBe(1);
    expect(await h.value(VezaMetric.LiveStreamViewers)).toBe(2);
  });

  it('@CountCacheLookup: hits and misses by subsystem, nothing when the lookup throws', async () => {
    veza.cached('hit');
    veza.cached('miss');
    veza.cached('miss');
    expect(() => veza.cached('boom')).toThrow('cache down');
    veza.cachedUser(true);
    veza.cachedUser(false);
    expect(await h.value(VezaMetric.CacheHits, { subsystem: 'tracks' })).toBe(1);
    expect(await h.value(VezaMetric.CacheMisses, { subsystem: 'tracks' })).toBe(2);
    expect(await h.value(VezaMetric.CacheHits, { subsystem: 'users' })).toBe(1);
    expect(await h.value(VezaMetric.CacheMisses, { subsystem: 'users' })).toBe(1);
  });

  it('@CountErrors: counts what is thrown, by bounded type and severity, and lets it through', async () => {
    const error = new QueryError('ECONNRESET');
    expect(() => veza.failing(error)).toThrow(error);
    expect(() => veza.failing(new TypeError('x'))).toThrow(TypeError);
    expect(() => veza.critical(new BadRequestException())).toThrow(BadRequestException);
    expect(() => veza.critical(new Error('y'))).toThrow('y');
    expect(veza.critical()).toBe('fine');
    expect(await h.value(VezaMetric.Errors, { type: 'ECONNRESET', severity: 'error' })).toBe(1);
    expect(await h.value(VezaMetric.Errors, { type: 'TypeError', severity: 'error' })).toBe(1);
    expect(await h.value(VezaMetric.Errors, { type: 'http', severity: 'critical' })).toBe(1);
    expect(await h.value(VezaMetric.Errors, { type: 'internal', severity: 'critical' })).toBe(1);
  });

  it('@CountWebSocketMessage and @CountRateLimitHit', async () => {
    veza.onChat(true);
    veza.onChat(false);
    expect(() => veza.onChat('throw')).toThrow('bad frame');
    expect(await h.value(VezaMetric.WebSocketMessages, { type: 'chat', status: 'ok' })).toBe(1);
    expect(await h.value(VezaMetric.WebSocketMessages, { type: 'chat', status: 'rejected' })).toBe(1);
    expect(await h.value(VezaMetric.WebSocketMessages, { type: 'chat', status: 'error' })).toBe(1);
    veza.allow(true);
    veza.allow(false);
    expect(() => veza.allow('throw429')).toThrow(HttpException);
    expect(() => veza.allow('throw500')).toThrow('limiter store down');
    expect(
      await h.value(VezaMetric.RateLimitHits, { endpoint: '/auth/login', limit_type: 'failed_logins' }),
    ).toBe(2);
  });

  it('Observables are measured per subscription: complete, error, unsubscribe', async () => {
    class Streams {
      @CountLogin()
      login(ok: boolean) {
        return ok ? of('a', 'b') : throwError(() => new Error('denied'));
      }
    }
    const streams = new Streams();
    const s = harness([streams]);
    try {
      const ok = streams.login(true);
      const ko = streams.login(false);
      expect(await s.value(VezaMetric.LoginAttempts, { success: 'success' })).toBeUndefined();
      expect(await lastValueFrom(ok)).toBe('b');
      expect(await lastValueFrom(ok)).toBe('b');
      await expect(lastValueFrom(ko)).rejects.toThrow('denied');
      expect(await s.value(VezaMetric.LoginAttempts, { success: 'success' })).toBe(2);
      expect(await s.value(VezaMetric.LoginAttempts, { success: 'failure' })).toBe(1);
    } finally {
      s.close();
    }
  });

  it('a lazy thenable (a query builder, a terminus attempt) runs once, when the caller awaits it, and is recorded then', async () => {
    let runs = 0;
    const lazy = () => ({
      then(ok: (v: number) => unknown, ko: (e: unknown) => unknown) {
        runs += 1;
        return Promise.resolve(42).then(ok, ko);
      },
    });
    class Builder {
      @TrackDbQuery('select', 'lazy')
      query() {
        return lazy();
      }
    }
    const builder = new Builder();
    const s = harness([builder]);
    try {
      const q = builder.query();
      expect(runs).toBe(0);
      expect(
        (await s.histogram(VezaMetric.DatabaseQueryDuration, { operation: 'select', table: 'lazy' }))?.count,
      ).toBeUndefined();
      expect(await q).toBe(42);
      expect(runs).toBe(1);
      expect(
        (await s.histogram(VezaMetric.DatabaseQueryDuration, { operation: 'select', table: 'lazy' }))?.count,
      ).toBe(1);
      expect(await q).toBe(42); // a second await runs it again, as without the decorator, but records once
      expect(runs).toBe(2);
      expect(
        (await s.histogram(VezaMetric.DatabaseQueryDuration, { operation: 'select', table: 'lazy' }))?.count,
      ).toBe(1);
    } finally {
      s.close();
    }
  });
});
