import { defer, tap, type Observable } from 'rxjs';
import { CANCELLED, FAILURE, SUCCESS, type CallArgs, type Instrument, type Outcome } from './instrument';

/** Where a recorder reports a problem of its own (never the call's): logged once per place, counted. */
export interface ProblemSink {
  problem(place: string, decorator: string, error: unknown): void;
  /** A return value it cannot follow without changing it (a frozen thenable): logged once per place. */
  untracked(place: string, what: string): void;
}

const now = performance.now.bind(performance);
/** Milliseconds, sub-microsecond resolution: what the trampoline reads before a timed call. */
const clock = (): number => now();
/** Promise's own `then`: a Promise subclass that overrides it is still followed in one reaction. */
const promiseThen: (this: Promise<unknown>, ok: (v: unknown) => unknown, ko: (e: unknown) => never) => Promise<unknown> =
  Object.getOwnPropertyDescriptor(Promise.prototype, 'then')?.value as never;

/**
 * The measurement of one decorated method in one application, shared by every instance of the class
 * that application created. The trampoline calls the method itself; the recorder only sees what came
 * out, hands the caller that very value (or lets the very error through), and settles the record
 * when the work ends: at once for a plain value, in one reaction for a Promise (the caller awaits
 * that reaction's Promise: same value, same error, one tick later), per subscription for an
 * Observable, at the first `then` for another thenable (which may be lazy: it is never run twice).
 */
export class Recorder {
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

  /** The method threw `error` (synchronously): record, and the trampoline rethrows it. */
  thrown(error: unknown, t0: number, args: CallArgs): void {
    this.settle(FAILURE, error, t0, args, this.start(args));
  }

  /** The method returned `result`: record now or when it settles, and give `result` back untouched. */
  returned<T>(result: T, t0: number, args: CallArgs): T {
    if (result === null || (typeof result !== 'object' && typeof result !== 'function')) {
      this.settle(SUCCESS, result, t0, args, this.start(args));
      return result;
    }
    if (result instanceof Promise) {
      // The caller gets the Promise of this one reaction, which settles as the method's did: with the
      // same value, or the same error. Handing back the method's own Promise would keep its identity
      // but mark it handled here, and a rejection nobody handles would no longer be reported.
      const started = this.start(args);
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
      ) as T;
    }
    const candidate = result as { subscribe?: unknown; lift?: unknown; next?: unknown; then?: unknown; operator?: unknown };
    // A Subject is also an Observer: wrapping it would take `next` away from the caller. But
    // `subject.pipe(op)` is a Subject too in rxjs 7 (an AnonymousSubject, with the operator set): that
    // is a derived stream, followed per subscription like any Observable.
    const observable = typeof candidate.subscribe === 'function' && typeof candidate.lift === 'function';
    if (observable && (typeof candidate.next !== 'function' || candidate.operator !== undefined)) {
      return this.observable(result as unknown as Observable<unknown>, args) as T;
    }
    if (typeof candidate.then === 'function') return this.thenable(result, args);
    this.settle(SUCCESS, result, t0, args, this.start(args));
    return result;
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
      return source.pipe(
        tap({
          next: (value) => {
            last = value;
          },
          error: (error: unknown) => end(FAILURE, error),
          complete: () => end(SUCCESS, last),
          unsubscribe: () => end(CANCELLED, undefined),
        }),
      );
    });
  }

  /**
   * A thenable that is not a native Promise (a query builder, terminus' `HealthCheckAttempt`) may run
   * only when awaited, and again on every `then`: calling `then` here would run it twice. Its first
   * `then` is followed instead, once, and the object is given back as it was.
   */
  private thenable<T>(target: T, args: CallArgs): T {
    const object = target as unknown as { then: (ok?: unknown, ko?: unknown) => unknown };
    const own = Object.getOwnPropertyDescriptor(object, 'then');
    const original = object.then;
    const restore = (): void => {
      if (own) Object.defineProperty(object, 'then', own);
      else delete (object as { then?: unknown }).then;
    };
    const follow = (onFulfilled?: unknown, onRejected?: unknown): unknown => {
      restore();
      const t0 = this.timed ? clock() : 0;
      const started = this.start(args);
      return original.call(
        object,
        (value: unknown) => {
          this.settle(SUCCESS, value, t0, args, started);
          return typeof onFulfilled === 'function' ? (onFulfilled as (v: unknown) => unknown)(value) : value;
        },
        (error: unknown) => {
          this.settle(FAILURE, error, t0, args, started);
          if (typeof onRejected === 'function') return (onRejected as (e: unknown) => unknown)(error);
          throw error;
        },
      );
    };
    try {
      Object.defineProperty(object, 'then', { value: follow, configurable: true, writable: true, enumerable: own?.enumerable ?? false });
    } catch {
      this.sink.untracked(this.place, 'a thenable that cannot be followed (frozen)');
    }
    return target;
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
        this.sink.problem(this.place, this.names[i], error);
      }
    }
    return started;
  }

  private settle(outcome: Outcome, value: unknown, t0: number, args: CallArgs, started: unknown[] | undefined): void {
    const seconds = this.timed ? (clock() - t0) / 1000 : 0;
    const { instruments } = this;
    for (let i = 0; i < instruments.length; i++) {
      try {
        instruments[i].end(outcome, value, seconds, args, started?.[i]);
      } catch (error) {
        this.sink.problem(this.place, this.names[i], error);
      }
    }
  }
}

export { clock };
