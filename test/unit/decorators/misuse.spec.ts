import { Injectable, Scope } from '@nestjs/common';
import {
  CountLogin,
  Counted,
  GaugeSource,
  InProgress,
  Timed,
  TrackDbQuery,
  TrackHealthCheck,
  TrackSession,
  TrackUpload,
  VezaMetric,
} from '../../../src';
import { captureWarnings, harness } from './harness';

/* Point 5: misuse fails at decoration time or at start-up, naming the decorator and Class#method. */

const apply =
  (decorator: MethodDecorator | ((...a: unknown[]) => unknown), ...args: unknown[]) =>
  () =>
    (decorator as (...a: unknown[]) => unknown)(...args);

describe('misuse is refused at decoration time, naming the decorator and Class#method', () => {
  class AuthService {
    login() {}
  }
  const proto = AuthService.prototype;
  const method = () => Object.getOwnPropertyDescriptor(proto, 'login') as PropertyDescriptor;

  it('on a property, an accessor, a class or a parameter', () => {
    expect(apply(CountLogin(), proto, 'token', undefined)).toThrow(
      '@CountLogin() on "AuthService#token": "AuthService#token" is not a method; put @CountLogin() on a method of a provider or controller.',
    );
    expect(apply(CountLogin(), proto, 'user', { get: () => 1, configurable: true })).toThrow(
      '"AuthService#user" is not a method',
    );
    expect(apply(CountLogin(), AuthService, undefined, undefined)).toThrow(
      '@CountLogin() on "AuthService": "AuthService" is not a method',
    );
    expect(apply(TrackSession('open'), proto, 'login', 0)).toThrow(
      '@TrackSession("open") on "AuthService#login": "AuthService#login" is not a method',
    );
  });

  it('on a static method', () => {
    expect(apply(CountLogin(), AuthService, 'create', { value: () => 1, configurable: true })).toThrow(
      '@CountLogin() on "AuthService#create": "AuthService#create" is a static method, which no Nest instance owns; put @CountLogin() on an instance method.',
    );
  });

  it('as a TC39 standard decorator', () => {
    expect(apply(CountLogin(), () => 1, { kind: 'method', name: 'login' })).toThrow(
      '@CountLogin() was applied as a TC39 standard decorator; Nest needs "experimentalDecorators": true in tsconfig.json.',
    );
  });

  it('twice on one method', () => {
    const d = method();
    CountLogin()(proto, 'login', d);
    expect(apply(CountLogin({ isSuccess: Boolean }), proto, 'login', d)).toThrow(
      '@CountLogin() on "AuthService#login": the method already has this decorator, so each call would be recorded twice; remove one of them.',
    );
  });

  it('with options of the wrong shape or unknown keys', () => {
    expect(apply(TrackSession('up' as 'open'), proto, 'login', method())).toThrow(
      '@TrackSession("up") on "AuthService#login": "change" must be "open" or "close", got the string "up".',
    );
    expect(apply(TrackDbQuery('', 'tracks'), proto, 'login', method())).toThrow(
      `@TrackDbQuery("", "tracks") on "AuthService#login": "operation" must be a non-empty string, got the string "".`,
    );
    expect(apply(CountLogin({ isSucces: () => true } as never), proto, 'login', method())).toThrow(
      '@CountLogin() on "AuthService#login": unknown option "isSucces"; expected one of isSuccess.',
    );
    expect(apply(TrackHealthCheck('db', { slowMs: -1 }), proto, 'login', method())).toThrow(
      '@TrackHealthCheck("db") on "AuthService#login": "slowMs" must be a finite number >= 0, got number -1.',
    );
    expect(apply(TrackUpload(undefined as never), proto, 'login', method())).toThrow(
      '"options" must be { type, size?, failureReason? }',
    );
  });

  it('an unknown metric, a metric that is not a gauge, wrong label names', () => {
    expect(apply(GaugeSource('veza_nope'), proto, 'login', method())).toThrow(
      '@GaugeSource("veza_nope") on "AuthService#login": "veza_nope" is not a Veza catalog metric; use a name from VezaMetric (e.g. VezaMetric.ActiveUsers).',
    );
    expect(apply(GaugeSource(VezaMetric.LoginAttempts), proto, 'login', method())).toThrow(
      '"veza_auth_login_attempts_total" is a counter, and only a gauge can be read at scrape time',
    );
    expect(apply(GaugeSource(VezaMetric.HealthCheckStatus), proto, 'login', method())).toThrow(
      `@GaugeSource("veza_health_check_status") on "AuthService#login": labels {} do not match the metric's label names {service}`,
    );
    expect(
      apply(GaugeSource(VezaMetric.ActiveUsers, { labels: { region: 'eu' } }), proto, 'login', method()),
    ).toThrow("labels {region} do not match the metric's label names {}");
    expect(
      apply(
        Counted({ name: 'app_logins_total', help: 'x', labelNames: ['kind'], labels: { knd: 'a' } }),
        proto,
        'login',
        method(),
      ),
    ).toThrow(
      `@Counted("app_logins_total") on "AuthService#login": labels {knd} do not match the metric's label names {kind}`,
    );
    expect(
      apply(Counted({ name: 'app_logins_total', help: 'x', labelNames: ['kind'] }), proto, 'login', method()),
    ).toThrow('the metric has label names {kind} but no "labels"');
    expect(
      apply(
        Timed({ name: 'app_t_seconds', help: 'x', labelNames: ['le'], labels: { le: '1' } }),
        proto,
        'login',
        method(),
      ),
    ).toThrow(
      '"labelNames" must be an array of distinct Prometheus label names (not starting with __, not le)',
    );
    expect(apply(Counted({ name: VezaMetric.LoginAttempts, help: 'x' }), proto, 'login', method())).toThrow(
      '"veza_auth_login_attempts_total" is a Veza catalog metric, which the module already registers',
    );
    expect(apply(InProgress({ name: 'bad name', help: 'x' }), proto, 'login', method())).toThrow(
      '"name" must be a Prometheus metric name (letters, digits, _ and :), got the string "bad name".',
    );
    expect(
      apply(Timed({ name: 'app_t_seconds', help: 'x', buckets: [1, 1] }), proto, 'login', method()),
    ).toThrow('"buckets" must be a non-empty array of finite numbers in strictly increasing order');
    expect(
      apply(
        Timed({ name: 'app_t_seconds', help: 'x', nativeHistogram: { maxBuckets: 0 } }),
        proto,
        'login',
        method(),
      ),
    ).toThrow(
      '"nativeHistogram.maxBuckets" must be an integer from 1 to 65536 (buckets per sign a series keeps), got number 0.',
    );
    expect(
      apply(
        Timed({ name: 'app_t_seconds', help: 'x', nativeHistogram: 'on' as never }),
        proto,
        'login',
        method(),
      ),
    ).toThrow(
      '"nativeHistogram" must be true, false or { bucketFactor?, maxBuckets?, zeroThreshold?, minResetInterval? }, got the string "on".',
    );
  });
});

describe('misuse is refused at start-up', () => {
  it('two methods declaring one metric differently', () => {
    class A {
      @Counted({ name: 'app_sent_total', help: 'Sent' })
      send() {}
    }
    class B {
      @Counted({ name: 'app_sent_total', help: 'Sent', labelNames: ['kind'], labels: { kind: 'x' } })
      send() {}
    }
    expect(() => harness([new A(), new B()])).toThrow(
      'Metric "app_sent_total" is declared as counter{} "Sent" by @Counted("app_sent_total") on "A#send" and as counter{kind} "Sent" by ' +
        '@Counted("app_sent_total") on "B#send"; give both the same definition, or different names.',
    );
  });

  it('a @GaugeSource on a request-scoped provider, two sources of one series, a source next to a decorator moving the gauge', () => {
    @Injectable({ scope: Scope.REQUEST })
    class Scoped {
      @GaugeSource(VezaMetric.ActiveUsers)
      users() {
        return 1;
      }
    }
    expect(() =>
      harness([{ instance: Object.create(Scoped.prototype), isDependencyTreeStatic: () => false }]),
    ).toThrow(
      '@GaugeSource on "Scoped#users": the provider is request-scoped or transient, and a scrape belongs to no request; move the method to a singleton provider.',
    );
    class One {
      @GaugeSource(VezaMetric.ActiveUsers)
      users() {
        return 1;
      }
    }
    class Two {
      @GaugeSource(VezaMetric.ActiveUsers)
      online() {
        return 2;
      }
    }
    expect(() => harness([new One(), new Two()])).toThrow(
      '@GaugeSource: "veza_active_users" is read from both "One#users" and "Two#online"; keep one source per series.',
    );
    class Sessions {
      @GaugeSource(VezaMetric.SessionsActive)
      count() {
        return 3;
      }
      @TrackSession('open')
      open() {}
    }
    expect(() => harness([new Sessions()])).toThrow(
      '@GaugeSource on "Sessions#count" sets "veza_auth_sessions_active" at each scrape, and @TrackSession("open") on "Sessions#open" moves it up and down',
    );
  });

  it('a frozen provider does not stop the start-up: its calls run, unrecorded, and the reason is logged once', async () => {
    class Frozen {
      @CountLogin()
      login() {
        return 'ok';
      }
    }
    const warnings = captureWarnings();
    const frozen = Object.freeze(new Frozen());
    const h = harness([frozen]);
    try {
      expect(frozen.login()).toBe('ok');
      expect(await h.value(VezaMetric.LoginAttempts, { success: 'success' })).toBeUndefined();
      expect(warnings.messages).toEqual([
        'An instance with Frozen#login is frozen (not extensible), so its calls cannot be followed and are not recorded; do not freeze providers.',
      ]);
    } finally {
      h.close();
      warnings.restore();
    }
  });
});
