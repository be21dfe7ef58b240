/* eslint-disable @typescript-eslint/prefer-promise-reject-errors -- the property throws and rejects with any value on purpose */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import fc from 'fast-check';
import { Observable, take } from 'rxjs';
import {
  CountCacheLookup,
  CountErrors,
  Counted,
  CountLogin,
  CountOrder,
  InProgress,
  TimeCheckout,
  Timed,
  TrackDbQuery,
  TrackTransferRetry,
  TrackUpload,
} from '../../../src';
import { INSTRUMENTATION_ERRORS } from '../../../src/instrumentation/metrics-explorer';
import { captureWarnings, harness } from './harness';

/*
 * Point 1 of the issue, as a property: whatever the method does (return any value, throw anything,
 * return a Promise that resolves or rejects, an Observable that completes, errors or is left early),
 * under any stack of decorators, the caller gets exactly what the undecorated method gives, and the
 * method sees the same `this` and arguments. Point 4: a decorator whose own callback fails changes
 * nothing for the caller; the problem is counted once per call and logged once per place.
 */

type Shape =
  | { kind: 'value'; value: unknown }
  | { kind: 'throw'; error: unknown }
  | { kind: 'resolve'; value: unknown }
  | { kind: 'reject'; error: unknown }
  | {
      kind: 'observable';
      values: unknown[];
      end: { kind: 'complete' } | { kind: 'error'; error: unknown } | { kind: 'leave' };
    };

const shape: fc.Arbitrary<Shape> = fc.oneof(
  fc.record({ kind: fc.constant('value' as const), value: fc.anything() }),
  fc.record({
    kind: fc.constant('throw' as const),
    error: fc.oneof(
      fc.anything(),
      fc.string().map((m) => new Error(m)),
    ),
  }),
  fc.record({ kind: fc.constant('resolve' as const), value: fc.anything() }),
  fc.record({
    kind: fc.constant('reject' as const),
    error: fc.oneof(
      fc.anything(),
      fc.string().map((m) => new TypeError(m)),
    ),
  }),
  fc.record({
    kind: fc.constant('observable' as const),
    values: fc.array(fc.anything(), { maxLength: 4 }),
    end: fc.oneof(
      fc.constant({ kind: 'complete' as const }),
      fc.record({ kind: fc.constant('error' as const), error: fc.anything() }),
      fc.constant({ kind: 'leave' as const }),
    ),
  }),
);

/** What the caller observed: the returned value or thrown error, and what a Promise/Observable delivered. */
interface Observed {
  threw: boolean;
  returned: unknown;
  settled?: { ok: boolean; value: unknown };
  notifications?: unknown[];
  subscribedBeforeSubscribe?: number;
}

/** A fresh result for `s`, counting the subscriptions of an Observable. */
function produce(s: Shape, subscriptions: { count: number }): unknown {
  switch (s.kind) {
    case 'value':
      return s.value;
    case 'throw':
      throw s.error;
    case 'resolve':
      return Promise.resolve(s.value);
    case 'reject':
      return Promise.reject(s.error);
    case 'observable':
      return new Observable((subscriber) => {
        subscriptions.count += 1;
        for (const v of s.values) subscriber.next(v);
        if (s.end.kind === 'complete') subscriber.complete();
        else if (s.end.kind === 'error') subscriber.error(s.end.error);
        // 'leave': never ends on its own; the caller unsubscribes.
      });
  }
}

async function observe(call: () => unknown, s: Shape, subscriptions: { count: number }): Promise<Observed> {
  let returned: unknown;
  try {
    returned = call();
  } catch (error) {
    return { threw: true, returned: error };
  }
  if (returned instanceof Promise) {
    const settled = await returned.then(
      (value: unknown) => ({ ok: true, value }),
      (value: unknown) => ({ ok: false, value }),
    );
    return { threw: false, returned, settled };
  }
  if (returned instanceof Observable && s.kind === 'observable') {
    const before = subscriptions.count;
    const notifications: unknown[] = [];
    const subscription = returned.subscribe({
      next: (v) => notifications.push(['next', v]),
      error: (e) => notifications.push(['error', e]),
      complete: () => notifications.push(['complete']),
    });
    // The source emits synchronously; one that does not end is left here, by the caller.
    subscription.unsubscribe();
    return { threw: false, returned: 'an observable', notifications, subscribedBeforeSubscribe: before };
  }
  return { threw: false, returned };
}

const same = (a: unknown, b: unknown): boolean => Object.is(a, b);
const sameList = (a: unknown[] = [], b: unknown[] = []): boolean =>
  a.length === b.length &&
  a.every((x, i) => (x as unknown[]).every((y, j) => same(y, (b[i] as unknown[])[j])));

type AnyDecorator = MethodDecorator;
const OUTCOMES = (): AnyDecorator =>
  Counted({
    name: 'test_calls_total',
    help: 'calls',
    labelNames: ['outcome'],
    labels: ({ outcome }) => ({ outcome }),
  });

/** Decorators that record correctly whatever the call gives. */
const healthy: Array<() => AnyDecorator> = [
  () => CountLogin(),
  () => TrackDbQuery('select', 'tracks'),
  () => CountErrors(),
  () => Timed({ name: 'test_duration_seconds', help: 'duration' }),
  () => InProgress({ name: 'test_in_progress', help: 'in flight' }),
  () => TrackTransferRetry(),
  () => TimeCheckout(),
  () => CountCacheLookup('test'),
];

/** A class whose `run` does `behaviour` and remembers `this` and the arguments it saw. */
function subjectClass(
  stack: AnyDecorator[],
  behaviour: () => unknown,
  seen: Array<{ self: unknown; args: unknown[] }>,
) {
  class Subject {
    run(...args: unknown[]): unknown {
      seen.push({ self: this, args });
      return behaviour();
    }
  }
  let descriptor = Object.getOwnPropertyDescriptor(Subject.prototype, 'run') as PropertyDescriptor;
  for (const decorate of [...stack].reverse())
    descriptor = (decorate(Subject.prototype, 'run', descriptor) as PropertyDescriptor) ?? descriptor;
  Object.defineProperty(Subject.prototype, 'run', descriptor);
  return Subject;
}

function expectSameObservation(decorated: Observed, plain: Observed, produced: unknown, s: Shape): void {
  expect(decorated.threw).toBe(plain.threw);
  if (s.kind === 'observable') {
    expect(decorated.subscribedBeforeSubscribe).toBe(0); // still lazy
    expect(sameList(decorated.notifications, plain.notifications)).toBe(true);
    return;
  }
  if (s.kind === 'resolve' || s.kind === 'reject') expect(decorated.returned).toBeInstanceOf(Promise);
  else expect(same(decorated.returned, s.kind === 'throw' ? s.error : produced)).toBe(true); // the very value or error
  if (plain.settled) {
    expect(decorated.settled?.ok).toBe(plain.settled.ok);
    expect(same(decorated.settled?.value, plain.settled.value)).toBe(true);
  }
}

/** How `test_calls_total` should count a call of shape `s`. */
function expectedOutcome(s: Shape): 'success' | 'failure' | undefined {
  if (s.kind === 'value' || s.kind === 'resolve') return 'success';
  if (s.kind === 'throw' || s.kind === 'reject') return 'failure';
  return s.end.kind === 'complete' ? 'success' : s.end.kind === 'error' ? 'failure' : undefined;
}

describe('decorated methods behave exactly like the undecorated ones', () => {
  let warnings: ReturnType<typeof captureWarnings>;
  beforeEach(() => (warnings = captureWarnings()));
  afterEach(() => warnings.restore());

  it('for any return shape, value, error and decorator stack (point 1), and record the outcome', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(shape, { minLength: 1, maxLength: 4 }),
        fc.shuffledSubarray(healthy),
        fc.nat({ max: 8 }),
        fc.array(fc.anything(), { maxLength: 3 }),
        async (shapes, picked, at, args) => {
          const stack = [...picked.map((make) => make())];
          stack.splice(Math.min(at, stack.length), 0, OUTCOMES());
          let current: Shape = shapes[0];
          let produced: unknown;
          const subscriptions = { count: 0 };
          const behaviour = () => (produced = produce(current, subscriptions));
          const seen: Array<{ self: unknown; args: unknown[] }> = [];
          const Decorated = subjectClass(stack, behaviour, seen);
          const Plain = subjectClass([], behaviour, seen);
          const decorated = new Decorated();
          const plain = new Plain();
          const h = harness([decorated]);
          try {
            const expected = { success: 0, failure: 0 };
            for (const s of shapes) {
              current = s;
              subscriptions.count = 0;
              const p = await observe(() => plain.run(...args), s, subscriptions);
              subscriptions.count = 0;
              seen.length = 0;
              const d = await observe(() => decorated.run(...args), s, subscriptions);
              expectSameObservation(d, p, produced, s);
              expect(seen[0]?.self).toBe(decorated);
              expect(seen[0]?.args.length).toBe(args.length);
              seen[0]?.args.forEach((a, i) => expect(same(a, args[i])).toBe(true));
              const outcome = expectedOutcome(s);
              if (outcome) expected[outcome] += 1;
            }
            expect((await h.value('test_calls_total', { outcome: 'success' })) ?? 0).toBe(expected.success);
            expect((await h.value('test_calls_total', { outcome: 'failure' })) ?? 0).toBe(expected.failure);
            expect((await h.value(INSTRUMENTATION_ERRORS)) ?? 0).toBe(0);
            if (picked.includes(healthy[4])) expect(await h.value('test_in_progress')).toBe(0);
          } finally {
            h.close();
          }
        },
      ),
      { numRuns: 120 },
    );
  });

  it('sync stays sync, a Promise stays a Promise, an Observable stays lazy', async () => {
    const subscriptions = { count: 0 };
    let next: Shape = { kind: 'value', value: 1 };
    const Decorated = subjectClass(
      [CountLogin(), TrackDbQuery('insert', 'users')],
      () => produce(next, subscriptions),
      [],
    );
    const d = new Decorated();
    const h = harness([d]);
    expect(d.run()).toBe(1);
    next = { kind: 'resolve', value: 2 };
    const promise = d.run() as Promise<number>;
    expect(promise).toBeInstanceOf(Promise);
    await expect(promise).resolves.toBe(2);
    next = { kind: 'observable', values: [3], end: { kind: 'complete' } };
    const observable = d.run() as Observable<number>;
    expect(subscriptions.count).toBe(0);
    expect(await h.value('veza_auth_login_attempts_total', { success: 'success' })).toBe(2); // not before a subscription
    observable.subscribe();
    observable.subscribe();
    expect(subscriptions.count).toBe(2);
    expect(await h.value('veza_auth_login_attempts_total', { success: 'success' })).toBe(4); // per subscription
    h.close();
  });
});

describe('a rejection nobody handles is still reported', () => {
  // Jest turns unhandled rejections into test failures in its sandbox: watch one in a plain Node process.
  it('as an unhandled rejection with the very same reason, as without the decorator', () => {
    const script = `
      const fs = require('node:fs'), ts = require('typescript');
      require.extensions['.ts'] = (m, f) => m._compile(ts.transpileModule(fs.readFileSync(f, 'utf8'), { fileName: f, compilerOptions:
        { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, experimentalDecorators: true, esModuleInterop: true } }).outputText, f);
      require('reflect-metadata');
      const { CountLogin } = require('./src/index.ts');
      const { standaloneMetrics } = require('./test/utils/standalone-metrics.ts');
      class Auth { login() { return Promise.reject(Object.assign(new Error('nobody awaits me'), { id: 42 })); } }
      const d = Object.getOwnPropertyDescriptor(Auth.prototype, 'login');
      Object.defineProperty(Auth.prototype, 'login', CountLogin()(Auth.prototype, 'login', d));
      const auth = new Auth();
      const standalone = standaloneMetrics({ defaultMetrics: false });
      const metrics = standalone.metrics;
      const modules = new Map([['m', { providers: new Map([[0, { instance: auth, isDependencyTreeStatic: () => true }]]), controllers: new Map(), injectables: new Map() }]]);
      standalone.explorer(modules).onModuleInit();
      process.on('unhandledRejection', async (reason) => {
        const failures = (await metrics.get('veza_auth_login_attempts_total').get()).values[0].value;
        console.log(JSON.stringify({ message: reason.message, id: reason.id, failures }));
        process.exit(0);
      });
      auth.login();
      setTimeout(() => { console.log('no unhandled rejection'); process.exit(1); }, 2000);
    `;
    const out = execFileSync(process.execPath, ['-e', script], {
      cwd: join(__dirname, '../../..'),
      encoding: 'utf8',
    });
    expect(JSON.parse(out.trim())).toEqual({ message: 'nobody awaits me', id: 42, failures: 1 });
  });
});

describe('an Observable left early stops its source as soon as without the decorator', () => {
  it('take(1) on a synchronous source that checks `closed` makes it stop after one value', async () => {
    let produced = 0;
    const source = () =>
      new Observable<number>((subscriber) => {
        for (let i = 0; i < 1000 && !subscriber.closed; i++) {
          produced += 1;
          subscriber.next(i);
        }
        subscriber.complete();
      });
    const Decorated = subjectClass(
      [CountLogin(), InProgress({ name: 'test_streams_in_flight', help: 'x' })],
      source,
      [],
    );
    const Plain = subjectClass([], source, []);
    const decorated = new Decorated();
    const h = harness([decorated]);
    try {
      const plainValues: unknown[] = [];
      (new Plain().run() as Observable<number>).pipe(take(1)).subscribe((v) => plainValues.push(v));
      const plainProduced = produced;
      produced = 0;
      const values: unknown[] = [];
      (decorated.run() as Observable<number>).pipe(take(1)).subscribe((v) => values.push(v));
      expect(values).toEqual(plainValues);
      expect(produced).toBe(plainProduced);
      expect(produced).toBe(1);
      // Left before it completed: no login counted, and nothing left in flight.
      expect(await h.value('veza_auth_login_attempts_total', { success: 'success' })).toBeUndefined();
      expect(await h.value('test_streams_in_flight')).toBe(0);
    } finally {
      h.close();
    }
  });
});

describe('instrumentation never throws into business code (point 4)', () => {
  const failures: Array<{
    decorator: string;
    bad: 'label' | 'size';
    make: (bad: unknown) => AnyDecorator;
    when: 'success' | 'failure' | 'both';
  }> = [
    {
      decorator: 'Counted',
      bad: 'label',
      make: (bad) =>
        Counted({
          name: 'test_labelled_total',
          help: 'x',
          labelNames: ['kind'],
          labels: () => {
            if (bad instanceof Error) throw bad;
            return { kind: bad as string };
          },
        }),
      when: 'both',
    },
    {
      decorator: 'TrackUpload',
      bad: 'size',
      make: (bad) => TrackUpload({ type: 'audio', size: () => bad as number }),
      when: 'success',
    },
    {
      decorator: 'TrackUpload',
      bad: 'label',
      make: (bad) => TrackUpload({ type: () => bad as string }),
      when: 'both',
    },
    {
      decorator: 'CountOrder',
      bad: 'label',
      make: (bad) => CountOrder({ status: () => bad as string }),
      when: 'success',
    },
    {
      decorator: 'CountLogin',
      bad: 'label',
      make: (bad) =>
        CountLogin({
          isSuccess: () => {
            throw bad;
          },
        }),
      when: 'success',
    },
  ];
  const notAString = fc.oneof(
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.constant(undefined),
    fc.object(),
    fc.string().map((m) => new Error(m)),
  );
  const notASize = fc.oneof(
    fc.string(),
    fc.constant(Number.NaN),
    fc.constant(-1),
    fc.constant(Infinity),
    fc.constant(undefined),
    fc.object(),
  );

  it('a failing label function, size or predicate: same result for the caller, counted per call, logged once per place', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...failures.keys()),
        notAString,
        notASize,
        fc.array(
          shape.filter((s) => s.kind !== 'observable'),
          { minLength: 1, maxLength: 5 },
        ),
        fc.boolean(),
        async (which, badLabel, badSize, shapes, above) => {
          const failure = failures[which];
          const bad = failure.bad === 'size' ? badSize : badLabel;
          const warnings = captureWarnings();
          let current: Shape = shapes[0];
          let produced: unknown;
          const subscriptions = { count: 0 };
          const behaviour = () => (produced = produce(current, subscriptions));
          const stack = above ? [failure.make(bad), OUTCOMES()] : [OUTCOMES(), failure.make(bad)];
          const Decorated = subjectClass(stack, behaviour, []);
          const Plain = subjectClass([], behaviour, []);
          const decorated = new Decorated();
          const h = harness([decorated]);
          try {
            let problems = 0;
            const expected = { success: 0, failure: 0 };
            for (const s of shapes) {
              current = s;
              const p = await observe(() => new Plain().run(), s, subscriptions);
              const d = await observe(() => decorated.run(), s, subscriptions);
              expectSameObservation(d, p, produced, s);
              const outcome = expectedOutcome(s) as 'success' | 'failure';
              expected[outcome] += 1;
              if (failure.when === 'both' || failure.when === outcome) problems += 1;
            }
            const labels = { decorator: failure.decorator, method: 'Subject#run' };
            expect((await h.value(INSTRUMENTATION_ERRORS, labels)) ?? 0).toBe(problems);
            expect(warnings.messages.filter((m) => m.includes('"Subject#run"')).length).toBe(
              problems > 0 ? 1 : 0,
            );
            // The healthy decorator next to it still records every call.
            expect((await h.value('test_calls_total', { outcome: 'success' })) ?? 0).toBe(expected.success);
            expect((await h.value('test_calls_total', { outcome: 'failure' })) ?? 0).toBe(expected.failure);
          } finally {
            h.close();
            warnings.restore();
          }
        },
      ),
      { numRuns: 120 },
    );
  });
});
