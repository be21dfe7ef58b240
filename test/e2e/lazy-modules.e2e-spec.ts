/**
 * Decorators on providers of modules loaded with Nest's `LazyModuleLoader`, which runs no lifecycle
 * hook for them: the explorer binds them as each load completes, once, and per application.
 */
import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { LazyModuleLoader, NestFactory } from '@nestjs/core';
import { CountLogin, GaugeSource, VezaMetric, VezaMetricsModule, VezaMetricsRegistry } from '../../src';
import { getMetricValue } from '@veza/nestjs-metrics/testing';
import { sampleValue } from '../utils/exposition';

@Injectable()
class LazyAuthService {
  @CountLogin({ isSuccess: (token: string | null) => token !== null })
  login(password: string): string | null {
    return password === 'secret' ? 'token' : null;
  }

  @GaugeSource(VezaMetric.ActiveUsers)
  activeUsers(): number {
    return 42;
  }
}

@Module({ providers: [LazyAuthService], exports: [LazyAuthService] })
class LazyAuthModule {}

@Module({ imports: [VezaMetricsModule.forRoot({ defaultMetrics: false })] })
class RootModule {}

async function loadAuth(app: INestApplicationContext): Promise<LazyAuthService> {
  const ref = await app.get(LazyModuleLoader).load(() => LazyAuthModule);
  return ref.get(LazyAuthService);
}

describe('decorators in lazily loaded modules', () => {
  let app: INestApplicationContext;

  beforeEach(async () => {
    app = await NestFactory.createApplicationContext(RootModule, { logger: false });
  });

  afterEach(async () => {
    await app.close();
  });

  it('records the calls of a provider loaded after bootstrap, with the same results', async () => {
    const auth = await loadAuth(app);
    expect(auth.login('secret')).toBe('token');
    expect(auth.login('wrong')).toBeNull();
    expect(auth.login('secret')).toBe('token');
    expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'success' })).toBe(2);
    expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'failure' })).toBe(1);
  });

  it("installs the loaded module's @GaugeSource, read at scrape time", async () => {
    const registry = app.get(VezaMetricsRegistry);
    expect(sampleValue(await registry.render(), 'veza_active_users')).toBe(0);
    await loadAuth(app);
    expect(sampleValue(await registry.render(), 'veza_active_users')).toBe(42);
  });

  it('binds a module loaded twice only once: each call counts once', async () => {
    const first = await loadAuth(app);
    const second = await loadAuth(app);
    expect(second).toBe(first);
    first.login('secret');
    expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'success' })).toBe(1);
  });

  it('keeps two applications apart: a lazy load in one is recorded in that one only', async () => {
    const other = await NestFactory.createApplicationContext(RootModule, { logger: false });
    try {
      const auth = await loadAuth(other);
      auth.login('secret');
      expect(await getMetricValue(other, VezaMetric.LoginAttempts, { success: 'success' })).toBe(1);
      expect((await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'success' })) ?? 0).toBe(0);
    } finally {
      await other.close();
    }
  });
});
