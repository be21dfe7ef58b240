/* eslint-disable @typescript-eslint/prefer-promise-reject-errors, @typescript-eslint/only-throw-error -- hostile values are thrown and rejected on purpose */
import fc from 'fast-check';
import { lastValueFrom, Observable } from 'rxjs';
import {
  CountCacheLookup,
  CountErrors,
  Counted,
  CountLogin,
  CountOrder,
  CountRateLimitHit,
  InProgress,
  TimeCheckout,
  Timed,
  TrackDbQuery,
  TrackHealthCheck,
  TrackTransferRetry,
  TrackUpload,
  VezaMetric,
} from '../../../src';
import { INSTRUMENTATION_ERRORS } from '../../../src/instrumentation/metrics-explorer';
import { captureWarnings, harness } from './harness';

/*
 * Issue #12, item 7: whatever a method returns or throws, hostile objects included (Proxies whose
 * traps throw, revoked Proxies, getters that throw, frozen and null-prototype objects, thenables
 * returned many times or calling back oddly, Promise subclasses), the decorated call gives the
 * caller what the undecorated one gives, writes nothing on the caller's objects, and never throws
 * where the undecorated call does not.
 */

/** What every hostile getter and trap throws. */
const boom = new Error('hostile read');
const thrower = (): never => {
  throw boom;
};

/** A log of writes a hostile Proxy saw (set, defineProperty, deleteProperty, setPrototypeOf, preventExtensions). */
const writes: string[] = [];
const logWrite = (what: string) => (): never => {
  writes.push(what);
  throw boom;
};
const WRITE_TRAPS = {
  set: logWrite('set'),
  defineProperty: logWrite('defineProperty'),
  deleteProperty: logWrite('deleteProperty'),
  setPrototypeOf: logWrite('setPrototypeOf'),
  preventExtensions: logWrite('preventExtensions'),
};

const withThrowingGetter = (base: object, key: string): object =>
  Object.defineProperty(base, key, { get: thrower, configurable: true });

class HostilePromise<T> extends Promise<T> {}

/**
 * Hostile values, built fresh each time. None is a thenable this library can follow: each must come
 * back as the very same object (identity), its outcome recorded as a plain value.
 */
const HOSTILE: Record<string, () => unknown> = {
  'a Proxy that throws on unknown keys': () =>
    new Proxy(
      { known: 1 },
      { get: (t, k) => (k in t ? (t as Record<PropertyKey, unknown>)[k] : thrower()), ...WRITE_TRAPS },
    ),
  'a Proxy whose every trap throws': () =>
    new Proxy(
      {},
      {
        get: thrower,
        has: thrower,
        getOwnPropertyDescriptor: thrower,
        ownKeys: thrower,
        getPrototypeOf: thrower,
        isExtensible: thrower,
        ...WRITE_TRAPS,
      },
    ),
  'a revoked Proxy': () => {
    const { proxy, revoke } = Proxy.revocable({}, {});
    revoke();
    return proxy;
  },
  'a revoked Proxy of a function': () => {
    const { proxy, revoke } = Proxy.revocable(() => 1, {});
    revoke();
    return proxy;
  },
  ...Object.fromEntries(
    [
      'then',
      'subscribe',
      'constructor',
      'code',
      'name',
      'message',
      'status',
      'reason',
      'getStatus',
      'statusCode',
    ].map((key) => [`an object whose ${key} getter throws`, () => withThrowingGetter({}, key)]),
  ),
  'an Observable-like whose lift getter throws': () =>
    withThrowingGetter({ subscribe: () => undefined }, 'lift'),
  'an Observable-like whose next getter throws': () =>
    withThrowingGetter({ subscribe: () => undefined, lift: () => undefined }, 'next'),
  'an Observable-like whose operator getter throws': () =>
    withThrowingGetter(
      { subscribe: () => undefined, lift: () => undefined, next: () => undefined },
      'operator',
    ),
  'an Error whose message, name, code and constructor getters throw': () =>
    ['stack', 'message', 'name', 'code', 'constructor'].reduce(
      (e, k) => withThrowingGetter(e, k),
      new Error('x') as object,
    ),
  'a function whose then getter throws': () => withThrowingGetter(() => 1, 'then'),
  'a frozen object': () => Object.freeze({ status: 'frozen' }),
  'a frozen thenable (followed by nobody: given back as it is)': () =>
    Object.freeze({ then: () => undefined }),
  'an object with a null prototype': () => Object.create(null) as object,
  'an object with a null prototype and a status': () =>
    Object.assign(Object.create(null) as object, { status: 'x', code: 'E1' }),
  'a Promise whose constructor getter throws': () => withThrowingGetter(Promise.resolve(1), 'constructor'),
  'a HostilePromise whose species getter throws': () => {
    const p = HostilePromise.resolve(1);
    void Object.defineProperty(p, 'constructor', {
      value: {
        get [Symbol.species]() {
          return thrower();
        },
      },
    });
    return p;
  },
};

/** Snapshot of what a caller's object looks like from outside: own keys and their descriptors (when they can be read). */
function snapshot(value: unknown): unknown {
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) return value;
  try {
    return Reflect.ownKeys(value).map((k) => [k, Object.getOwnPropertyDescriptor(value, k)]);
  } catch {
    return 'unreadable';
  }
}

type Outcome = {
  threw: boolean;
  value: unknown;
  settled?: { ok: boolean; value: unknown };
  notifications?: unknown[];
};

/** How the method hands the hostile value over: the three decorator kinds, each ending both ways. */
type Delivery = 'return' | 'throw' | 'resolve' | 'reject' | 'emit' | 'error';
const DELIVERIES: Delivery[] = ['return', 'throw', 'resolve', 'reject', 'emit', 'error'];

function deliver(how: Delivery, value: unknown): unknown {
  switch (how) {
    case 'return':
      return value;
    case 'throw':
      throw value;
    case 'resolve':
      // Not Promise.resolve(value): a value that looks like a thenable would be adopted, not delivered.
      return Promise.resolve().then(() => ({ box: value }));
    case 'reject':
      return Promise.reject(value);
    case 'emit':
      return new Observable((s) => {
        s.next(value);
        s.complete();
      });
    case 'error':
      return new Observable((s) => s.error(value));
  }
}

async function observe(call: () => unknown, how: Delivery): Promise<Outcome> {
  let returned: unknown;
  try {
    returned = call();
  } catch (error) {
    return { threw: true, value: error };
  }
  if (how === 'resolve' || how === 'reject') {
    const settled = await (returned as Promise<unknown>).then(
      (v) => ({ ok: true, value: (v as { box: unknown }).box }),
      (e: unknown) => ({ ok: false, value: e }),
    );
    return { threw: false, value: 'a promise', settled };
  }
  if (how === 'emit' || how === 'error') {
    const notifications: unknown[] = [];
    (returned as Observable<unknown>).subscribe({
      next: (v) => notifications.push(['next', v]),
      error: (e) => notifications.push(['error', e]),
      complete: () => notifications.push(['complete']),
    });
    return { threw: false, value: 'an observable', notifications };
  }
  return { threw: false, value: returned };
}

/** Every decorator kind, with the defaults that read the value (status, error type, reason, 429, terminus). */
const STACK: Array<() => MethodDecorator> = [
  () => CountLogin(),
  () => CountOrder(),
  () => CountErrors(),
  () => TrackUpload({ type: 'audio' }),
  () => CountRateLimitHit('/x', 'y'),
  () => TrackHealthCheck('svc'),
  () => TrackDbQuery('select', 't'),
  () => TrackTransferRetry(),
  () => TimeCheckout(),
  () => CountCacheLookup('c'),
  () => InProgress({ name: 'hostile_in_progress', help: 'x' }),
  () => Timed({ name: 'hostile_seconds', help: 'x' }),
  () =>
    Counted({
      name: 'hostile_calls_total',
      help: 'x',
      labelNames: ['outcome'],
      labels: ({ outcome }) => ({ outcome }),
    }),
];

function subjectClass(stack: MethodDecorator[], behaviour: () => unknown) {
  class Subject {
    run(): unknown {
      return behaviour();
    }
  }
  let descriptor = Object.getOwnPropertyDescriptor(Subject.prototype, 'run') as PropertyDescriptor;
  for (const decorate of [...stack].reverse())
    descriptor = (decorate(Subject.prototype, 'run', descriptor) as PropertyDescriptor) ?? descriptor;
  Object.defineProperty(Subject.prototype, 'run', descriptor);
  return Subject;
}

describe('hostile return values and thrown values (issue #12, item 7)', () => {
  let warnings: ReturnType<typeof captureWarnings>;
  beforeEach(() => {
    warnings = captureWarnings();
    writes.length = 0;
  });
  afterEach(() => warnings.restore());

  it('every decorator kind gives the caller exactly the undecorated outcome, writes nothing, and counts no problem', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...Object.keys(HOSTILE)),
        fc.constantFrom(...DELIVERIES),
        fc.shuffledSubarray(STACK, { minLength: 1 }),
        async (name, how, picked) => {
          const value = HOSTILE[name]();
          const before = snapshot(value);
          const behaviour = () => deliver(how, value);
          const Decorated = subjectClass(
            picked.map((make) => make()),
            behaviour,
          );
          const Plain = subjectClass([], behaviour);
          const decorated = new Decorated();
          const h = harness([decorated]);
          try {
            const plain = await observe(() => new Plain().run(), how);
            const writesPlain = writes.length;
            const got = await observe(() => decorated.run(), how);
            expect(got.threw).toBe(plain.threw);
            expect(Object.is(got.value, plain.value)).toBe(true); // the very object, or the very error
            expect(got.settled?.ok).toBe(plain.settled?.ok);
            expect(Object.is(got.settled?.value, plain.settled?.value)).toBe(true);
            expect(got.notifications?.length).toBe(plain.notifications?.length);
            got.notifications?.forEach((n, i) =>
              (n as unknown[]).forEach((x, j) =>
                expect(Object.is(x, (plain.notifications?.[i] as unknown[])[j])).toBe(true),
              ),
            );
            expect(writes.length).toBe(writesPlain); // no write reached a hostile Proxy
            expect(snapshot(value)).toEqual(before); // no new own property
            expect((await h.value(INSTRUMENTATION_ERRORS)) ?? 0).toBe(0);
          } finally {
            h.close();
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('a Proxy `this` that throws on every read, or answers anything: the call runs as undecorated', () => {
    const Decorated = subjectClass([CountLogin()], () => 'ran');
    const h = harness([new Decorated()]);
    try {
      const run = Decorated.prototype.run;
      const throwing = new Proxy({}, { get: thrower, getPrototypeOf: thrower });
      const anything = new Proxy({}, { get: () => () => 'junk' });
      const { proxy: revoked, revoke } = Proxy.revocable({}, {});
      revoke();
      expect(run.call(throwing)).toBe('ran');
      expect(run.call(anything)).toBe('ran');
      expect(run.call(revoked)).toBe('ran');
    } finally {
      h.close();
    }
  });

  it('an error whose message getter throws, met while recording: the first call rethrows that very error, the problem is counted', async () => {
    const hostile = withThrowingGetter(new Error('x'), 'message');
    const Decorated = subjectClass(
      [
        Counted({
          name: 'hostile_typed_total',
          help: 'x',
          labelNames: ['kind'],
          labels: ({ error }) => ({ kind: (error as Error).message }), // reads the getter: throws `boom`...
        }),
      ],
      () => {
        throw hostile;
      },
    );
    // ...and `boom` itself is described when the problem is logged: make that throw too.
    const described = withThrowingGetter(new Error('y'), 'message');
    const saved = boom.message;
    Object.defineProperty(boom, 'message', { get: () => (described as Error).message, configurable: true });
    const d = new Decorated();
    const h = harness([d]);
    try {
      for (let i = 0; i < 3; i++) {
        let caught: unknown;
        try {
          d.run();
        } catch (error) {
          caught = error;
        }
        expect(caught).toBe(hostile);
      }
      expect(await h.value(INSTRUMENTATION_ERRORS, { decorator: 'Counted', method: 'Subject#run' })).toBe(3);
      expect(warnings.messages.filter((m) => m.includes('Subject#run')).length).toBe(1);
    } finally {
      Object.defineProperty(boom, 'message', { value: saved, configurable: true, writable: true });
      h.close();
    }
  });
});

describe('thenables that are not Promises (issue #12, item 7)', () => {
  let warnings: ReturnType<typeof captureWarnings>;
  beforeEach(() => (warnings = captureWarnings()));
  afterEach(() => warnings.restore());

  it('the same thenable returned 5,000 times: each call recorded once, nothing written on it, no stack overflow', async () => {
    let runs = 0;
    const thenable = {
      then(ok: (v: number) => unknown, ko: (e: unknown) => unknown) {
        runs += 1;
        return Promise.resolve(7).then(ok, ko);
      },
    };
    const before = snapshot(thenable);
    const thenBefore = thenable.then;
    const Decorated = subjectClass([TrackDbQuery('select', 'same')], () => thenable);
    const d = new Decorated();
    const h = harness([d]);
    try {
      const results = Array.from({ length: 5000 }, () => d.run());
      expect(snapshot(thenable)).toEqual(before);
      expect(thenable.then).toBe(thenBefore);
      for (const r of results) expect(await (r as Promise<number>)).toBe(7);
      expect(runs).toBe(5000);
      expect(
        (await h.histogram(VezaMetric.DatabaseQueryDuration, { operation: 'select', table: 'same' }))?.count,
      ).toBe(5000);
      expect(snapshot(thenable)).toEqual(before);
    } finally {
      h.close();
    }
  });

  it('is given back as a Proxy over the very object: same prototype, properties, writes; methods run on the object; chains followed', async () => {
    class Builder {
      #clauses: string[] = [];
      runs = 0;
      where(clause: string): this {
        this.#clauses.push(clause);
        return this;
      }
      get sql(): string {
        return `select where ${this.#clauses.join(' and ')}`;
      }
      then(ok: (v: string) => unknown, ko: (e: unknown) => unknown): Promise<unknown> {
        this.runs += 1;
        return Promise.resolve(this.sql).then(ok, ko);
      }
    }
    const builder = new Builder();
    const Decorated = subjectClass([TrackDbQuery('select', 'builder')], () => builder);
    const d = new Decorated();
    const h = harness([d]);
    try {
      const q = d.run() as Builder;
      expect(Object.getOwnPropertyNames(builder)).toEqual(['runs']); // nothing written on it
      expect(q).toBeInstanceOf(Builder);
      expect(Object.getPrototypeOf(q)).toBe(Builder.prototype);
      expect(Object.keys(q)).toEqual(['runs']);
      const chained = q.where('a = 1').where('b = 2'); // #private fields: the method runs on the object itself
      expect(chained).toBe(q);
      expect(q.sql).toBe('select where a = 1 and b = 2');
      expect(builder.runs).toBe(0);
      expect(
        (await h.histogram(VezaMetric.DatabaseQueryDuration, { operation: 'select', table: 'builder' }))
          ?.count,
      ).toBeUndefined();
      expect(await chained).toBe('select where a = 1 and b = 2');
      expect(builder.runs).toBe(1); // run once, by the caller's await
      expect(
        (await h.histogram(VezaMetric.DatabaseQueryDuration, { operation: 'select', table: 'builder' }))
          ?.count,
      ).toBe(1);
      (q as unknown as { extra: number }).extra = 1; // a write goes to the object, as undecorated
      expect((builder as unknown as { extra: number }).extra).toBe(1);
      expect(Object.getOwnPropertyNames(builder).sort()).toEqual(['extra', 'runs']);
    } finally {
      h.close();
    }
  });

  it('calling back twice, synchronously, or both ways: recorded once, with the first outcome; the caller sees every call back', async () => {
    const seen: unknown[] = [];
    const odd = {
      then(ok: (v: unknown) => unknown, ko: (e: unknown) => unknown) {
        ok('first');
        ok('second');
        ko(boom);
      },
    };
    const Decorated = subjectClass([CountLogin(), CountErrors()], () => odd);
    const d = new Decorated();
    const h = harness([d]);
    try {
      const r = d.run() as typeof odd;
      r.then(
        (v) => seen.push(['ok', v]),
        (e) => seen.push(['ko', e]),
      );
      expect(seen).toEqual([
        ['ok', 'first'],
        ['ok', 'second'],
        ['ko', boom],
      ]);
      expect(await h.value('veza_auth_login_attempts_total', { success: 'success' })).toBe(1);
      expect(await h.value('veza_auth_login_attempts_total', { success: 'failure' })).toBeUndefined();
      expect(await h.value('veza_errors_total', { type: 'Error', severity: 'error' })).toBeUndefined();
    } finally {
      h.close();
    }
  });

  it('a then that throws synchronously: the caller gets that very error, recorded as a failure', async () => {
    const failing = {
      then() {
        throw boom;
      },
    };
    const Decorated = subjectClass([CountLogin()], () => failing);
    const d = new Decorated();
    const h = harness([d]);
    try {
      await expect(Promise.resolve().then(() => d.run())).rejects.toBe(boom);
      expect(await h.value('veza_auth_login_attempts_total', { success: 'failure' })).toBe(1);
    } finally {
      h.close();
    }
  });

  it('a Promise subclass settles as the method’s did, and is an instance of that subclass', async () => {
    class Tracked<T> extends Promise<T> {}
    const Decorated = subjectClass([CountLogin()], () => Tracked.resolve(3));
    const d = new Decorated();
    const h = harness([d]);
    try {
      const r = d.run() as Tracked<number>;
      expect(r).toBeInstanceOf(Tracked);
      expect(await r).toBe(3);
      expect(await h.value('veza_auth_login_attempts_total', { success: 'success' })).toBe(1);
    } finally {
      h.close();
    }
  });

  it('an Observable still follows each subscription', async () => {
    const Decorated = subjectClass([CountLogin()], () => new Observable((s) => (s.next(1), s.complete())));
    const d = new Decorated();
    const h = harness([d]);
    try {
      const o = d.run() as Observable<number>;
      expect(await lastValueFrom(o)).toBe(1);
      expect(await lastValueFrom(o)).toBe(1);
      expect(await h.value('veza_auth_login_attempts_total', { success: 'success' })).toBe(2);
    } finally {
      h.close();
    }
  });
});
