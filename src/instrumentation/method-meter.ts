import { types } from 'node:util';
import { defer, Observable, tap } from 'rxjs';
import { CANCELLED, FAILURE, SUCCESS, type CallArgs, type Instrument, type Outcome } from './instrument';

/** Where a meter reports a problem of its own (never the call's): logged once per place, counted. */
export interface ProblemSink {
  problem(place: string, decorator: string, error: unknown): void;
  /** A return value it cannot follow without changing it (a frozen thenable): logged once per place. */
  untracked(place: string, what: string): void;
}

const now = performance.now.bind(performance);
/** Milliseconds, sub-microsecond resolution: what the trampoline reads before a timed call. */
const clock = (): number => now();
/** Promise's own `then`: a Promise subclass that overrides it is still followed in one reaction. */
const promiseThen: (
  this: Promise<unknown>,
  ok: (v: unknown) => unknown,
  ko: (e: unknown) => never,
) => Promise<unknown> = Object.getOwnPropertyDescriptor(Promise.prototype, 'then')?.value as never;

/** What a returned object is, as far as recording goes. */
const PLAIN = 0;
const PROMISE = 1;
const OBSERVABLE = 2;
const THENABLE = 3;
type Shape = typeof PLAIN | typeof PROMISE | typeof OBSERVABLE | typeof THENABLE;

/**
 * The shape of `result`. Every read here may run a getter or a Proxy trap of the caller's object and
 * throw (a revoked Proxy throws on any of them): the caller of this function treats a throw as PLAIN.
 */
function shapeOf(result: object): Shape {
  if (result instanceof Promise) return PROMISE;
  const candidate = result as {
    subscribe?: unknown;
    lift?: unknown;
    next?: unknown;
    then?: unknown;
    operator?: unknown;
  };
  // A Subject is also an Observer: wrapping it would take `next` away from the caller. But
  // `subject.pipe(op)` is a Subject too in rxjs 7 (an AnonymousSubject, with the operator set): that
  // is a derived stream, followed per subscription like any Observable.
  if (
    typeof candidate.subscribe === 'function' &&
    typeof candidate.lift === 'function' &&
    (typeof candidate.next !== 'function' || candidate.operator !== undefined)
  ) {
    return OBSERVABLE;
  }
  return typeof candidate.then === 'function' ? THENABLE : PLAIN;
}

/** An own property the Proxy `get` invariant pins: reading it through a Proxy must give the target's very value. */
function pinned(target: object, key: PropertyKey): boolean {
  const own = Reflect.getOwnPropertyDescriptor(target, key);
  return (
    own !== undefined &&
    own.configurable === false &&
    ('value' in own ? own.writable === false : own.get === undefined)
  );
}

/**
 * The measurement of one decorated method in one application, shared by every instance of the class
 * that application created. The trampoline calls the method itself; the meter only sees what came
 * out and settles the record when the work ends: at once for a plain value, in one reaction for a
 * Promise, per subscription for an Observable, at the first `then` for another thenable.
 *
 * What the caller gets (the rule, whatever the method returns or throws):
 * - a thrown error: the very same error, rethrown;
 * - a primitive, a plain object, a function, a Subject: the very same value;
 * - a Promise (or a subclass): the Promise of one reaction on it, which settles as the method's did,
 *   with the same value or the same error, one tick later. Handing back the method's own Promise would
 *   keep its identity but mark it handled here, and a rejection nobody handles would no longer be
 *   reported;
 * - an Observable: a deferred Observable that subscribes to it once per subscription (never sooner);
 * - another thenable (a query builder, a PrismaPromise, terminus' `HealthCheckAttempt`): see
 *   {@link MethodMeter.thenable}, a Proxy over the very object;
 * - anything this code cannot read (a getter or a Proxy trap that throws, a revoked Proxy) or cannot
 *   follow: the very same value, recorded as a success at once.
 * Nothing is ever written onto the caller's objects, and no failure of the recording (a label function
 * that throws, an error whose `message` getter throws) reaches the caller: it goes to the sink.
 */
export class MethodMeter {
  private readonly starts: boolean;

  constructor(
    readonly place: string,
    /** At least one instrument needs the call's duration. */
    readonly timed: boolean,
    private readonly instruments: readonly Instrument[],
    private readonly names: readonly string[],
    private readonly sink: ProblemSink,
  ) {
    this.starts = instruments.some((i) => i.start !== undefined);
  }

  /** The method threw `error` (synchronously): record, and the trampoline rethrows it. Never throws. */
  thrown(error: unknown, t0: number, args: CallArgs): void {
    this.settle(FAILURE, error, t0, args, this.start(args));
  }

  /** The method returned `result`: record now or when it settles, and give back what the rule above says. Never throws. */
  returned<T>(result: T, t0: number, args: CallArgs): T {
    if (result === null || (typeof result !== 'object' && typeof result !== 'function')) {
      this.settle(SUCCESS, result, t0, args, this.start(args));
      return result;
    }
    let shape: Shape;
    try {
      shape = shapeOf(result);
    } catch {
      shape = PLAIN;
    }
    if (shape === PROMISE) return this.promise(result as unknown as Promise<unknown>, t0, args) as T;
    if (shape === OBSERVABLE) return this.observable(result as unknown as Observable<unknown>, args) as T;
    if (shape === THENABLE) return this.thenable(result, t0, args) as T;
    this.settle(SUCCESS, result, t0, args, this.start(args));
    return result;
  }

  private promise(result: Promise<unknown>, t0: number, args: CallArgs): unknown {
    const started = this.start(args);
    try {
      return promiseThen.call(
        result,
        (value: unknown) => {
          this.settle(SUCCESS, value, t0, args, started);
          return value;
        },
        (error: unknown) => {
          this.settle(FAILURE, error, t0, args, started);
          throw error;
        },
      );
    } catch {
      // Its `constructor` (or species) could not be read or built: `then` attached nothing, so the
      // Promise goes back as it is, recorded as a plain value.
      this.settle(SUCCESS, result, t0, args, started);
      return result;
    }
  }

  /**
   * Per subscription: the clock and the instruments start when it subscribes, and the record settles
   * when it completes, errors or is left. An operator (`tap`), not a subscription of our own, so that
   * a subscriber leaving early (`take(1)`) closes the source at once, as it would undecorated.
   */
  private observable(source: Observable<unknown>, args: CallArgs): Observable<unknown> {
    return defer(() => {
      const t0 = this.timed ? clock() : 0;
      const started = this.start(args);
      let open = true;
      let last: unknown;
      const end = (outcome: Outcome, value: unknown): void => {
        if (!open) return;
        open = false;
        this.settle(outcome, value, t0, args, started);
      };
      try {
        return tap({
          next: (value) => {
            last = value;
          },
          error: (error: unknown) => end(FAILURE, error),
          complete: () => end(SUCCESS, last),
          unsubscribe: () => end(CANCELLED, undefined),
        })(source);
      } catch {
        // Its `lift` could not be read or called: this subscription goes to the source as it is.
        end(SUCCESS, source);
        return new Observable<unknown>((subscriber) => source.subscribe(subscriber));
      }
    });
  }

  /**
   * A thenable that is not a Promise may run only when awaited, and again on every `then` (a query
   * builder, a PrismaPromise): calling `then` here would run it once more, and writing a `then` of our
   * own on it would change the caller's object. So the caller gets a Proxy over the very object: every
   * property, the prototype (`instanceof`), keys, writes and the `then` it calls are the object's own.
   * Its first `then` call is followed (the clock starts there, the record settles when it calls back,
   * once, however many times it calls back), later ones go straight through. Methods read through the
   * Proxy run on the object itself (its `#private` fields work), and one that returns the object
   * (`where()` of a builder) returns the Proxy, so the chain is still followed. The price: the Proxy is
   * not `===` the object, nor its methods `===` the object's. Per Proxy, it keeps one wrapper per
   * method name read (released with the Proxy). An object whose `then` is pinned (frozen,
   * non-configurable) cannot be proxied that way, and one that is itself a Proxy is not (every read
   * through ours would also call its `getOwnPropertyDescriptor` trap): either goes back as it is,
   * unrecorded, logged once.
   */
  private thenable(target: object, t0: number, args: CallArgs): object {
    try {
      if (types.isProxy(target) || pinned(target, 'then')) {
        this.untracked('a thenable that cannot be followed (frozen, or a Proxy)');
        return target;
      }
      return this.followFirstThen(target, args);
    } catch {
      this.settle(SUCCESS, target, t0, args, this.start(args));
      return target;
    }
  }

  private followFirstThen(target: object, args: CallArgs): object {
    let followed = false;
    let methods:
      | Map<PropertyKey, { method: (...a: unknown[]) => unknown; onTarget: (...a: unknown[]) => unknown }>
      | undefined;
    const onTarget = (method: (...a: unknown[]) => unknown): ((...a: unknown[]) => unknown) =>
      new Proxy(method, {
        apply: (fn, self: unknown, list: unknown[]) => {
          const result: unknown = Reflect.apply(fn, self === proxy ? target : self, list);
          return result === target ? proxy : result;
        },
      });
    const follow =
      (then: (...a: unknown[]) => unknown) =>
      (...list: unknown[]): unknown => {
        if (followed) return Reflect.apply(then, target, list);
        followed = true;
        const t0 = this.timed ? clock() : 0;
        const started = this.start(args);
        let open = true;
        const end = (outcome: Outcome, value: unknown): void => {
          if (!open) return;
          open = false;
          this.settle(outcome, value, t0, args, started);
        };
        const [onFulfilled, onRejected] = list;
        list[0] = (value: unknown) => {
          end(SUCCESS, value);
          return typeof onFulfilled === 'function' ? (onFulfilled as (v: unknown) => unknown)(value) : value;
        };
        list[1] = (error: unknown) => {
          end(FAILURE, error);
          if (typeof onRejected === 'function') return (onRejected as (e: unknown) => unknown)(error);
          throw error;
        };
        try {
          return Reflect.apply(then, target, list);
        } catch (error) {
          end(FAILURE, error);
          throw error;
        }
      };
    const proxy: object = new Proxy(target, {
      get: (object, key, receiver: unknown) => {
        const value: unknown = Reflect.get(object, key, receiver === proxy ? object : receiver);
        if (typeof value !== 'function' || receiver !== proxy || pinned(object, key)) return value;
        if (key === 'then') return followed ? value : follow(value as (...a: unknown[]) => unknown);
        methods ??= new Map();
        let known = methods.get(key);
        if (known?.method !== value) {
          known = {
            method: value as (...a: unknown[]) => unknown,
            onTarget: onTarget(value as (...a: unknown[]) => unknown),
          };
          methods.set(key, known);
        }
        return known.onTarget;
      },
    });
    return proxy;
  }

  private untracked(what: string): void {
    try {
      this.sink.untracked(this.place, what);
    } catch {
      // Reporting is best effort: nothing here may reach the call.
    }
  }

  private problem(index: number, error: unknown): void {
    try {
      this.sink.problem(this.place, this.names[index], error);
    } catch {
      // Likewise.
    }
  }

  /** Starts the instruments that care; what each returned, by position (`undefined` when none does). */
  private start(args: CallArgs): unknown[] | undefined {
    if (!this.starts) return undefined;
    const { instruments } = this;
    const started = new Array<unknown>(instruments.length);
    for (let i = 0; i < instruments.length; i++) {
      const instrument = instruments[i];
      if (instrument.start === undefined) continue;
      try {
        started[i] = instrument.start(args);
      } catch (error) {
        this.problem(i, error);
      }
    }
    return started;
  }

  private settle(
    outcome: Outcome,
    value: unknown,
    t0: number,
    args: CallArgs,
    started: unknown[] | undefined,
  ): void {
    const seconds = this.timed ? (clock() - t0) / 1000 : 0;
    const { instruments } = this;
    for (let i = 0; i < instruments.length; i++) {
      try {
        instruments[i].end(outcome, value, seconds, args, started?.[i]);
      } catch (error) {
        this.problem(i, error);
      }
    }
  }
}

export { clock };
