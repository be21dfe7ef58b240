/**
 * Decorators on providers of modules loaded with Nest's `LazyModuleLoader`, which runs no lifecycle
 * hook for them: the explorer binds them as each load completes, once, and per application.
 */
import { Injectable, Module, type INestApplicationContext } from '@nestjs/common';
import { LazyModuleLoader, NestFactory } from '@nestjs/core';
import { Registry } from 'prom-client';
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

/** A second lazy module whose provider takes a while to build, so that two loads overlap. */
@Injectable()
class SlowAuthService {
  @CountLogin({ isSuccess: (token: string | null) => token !== null })
  login(password: string): string | null {
    return password === 'secret' ? 'token' : null;
  }
}

@Module({
  providers: [
    {
      provide: 'SLOW_READY',
      useFactory: () => new Promise((resolve) => setTimeout(() => resolve(true), 50)),
    },
    { provide: SlowAuthService, useFactory: () => new SlowAuthService(), inject: ['SLOW_READY'] },
  ],
})
class SlowAuthModule {}

/** A provider of the app itself with a source for the same gauge. */
@Injectable()
class EagerPresence {
  sourceCalls = 0;

  @GaugeSource(VezaMetric.ActiveUsers)
  activeUsers(): number {
    this.sourceCalls++;
    return 1;
  }
}

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

  it('binds the modules of two loads that overlap, each once', async () => {
    const loader = app.get(LazyModuleLoader);
    const [fast, slow] = await Promise.all([
      loader.load(() => LazyAuthModule),
      loader.load(() => SlowAuthModule),
    ]);
    fast.get(LazyAuthService).login('secret');
    slow.get(SlowAuthService).login('secret');
    expect(await getMetricValue(app, VezaMetric.LoginAttempts, { success: 'success' })).toBe(2);
  });
});

describe('a lazy @GaugeSource next to one of the app', () => {
  it('keeps the first source of a series (the clash is logged, the load succeeds), and leaves the registry clean on close', async () => {
    const registry = new Registry();
    @Module({
      imports: [VezaMetricsModule.forRoot({ defaultMetrics: false, registry })],
      providers: [EagerPresence],
    })
    class EagerModule {}
    const app = await NestFactory.createApplicationContext(EagerModule, { logger: false });
    const eager = app.get(EagerPresence);
    const lazy = await loadAuth(app);
    expect(lazy).toBeInstanceOf(LazyAuthService);
    expect(sampleValue(await registry.metrics(), 'veza_active_users')).toBe(1);
    await app.close();
    const calls = eager.sourceCalls;
    await registry.metrics();
    expect(eager.sourceCalls).toBe(calls);
  });
});
