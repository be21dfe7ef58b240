import type { FamilyMetric } from './graphql-families';

type Subscribe = (this: unknown, ...args: unknown[]) => unknown;
interface FieldLike {
  name: string;
  subscribe?: Subscribe;
}
interface SchemaLike {
  getSubscriptionType(): { getFields(): Record<string, FieldLike> } | null | undefined;
}
interface GaugeLike {
  inc(labels: Record<string, string>): void;
  dec(labels: Record<string, string>): void;
}
interface CounterLike {
  inc(labels: Record<string, string>): void;
}
type Iter = {
  next(...args: unknown[]): Promise<IteratorResult<unknown>>;
  return?(...args: unknown[]): Promise<IteratorResult<unknown>>;
  throw?(...args: unknown[]): Promise<IteratorResult<unknown>>;
};

const WRAPPED = Symbol.for('veza.metrics.graphqlSubscribe');

/**
 * Follows the subscriptions of the schema's `Subscription` root fields: `active` goes up when a
 * field's `subscribe` hands graphql-js its event stream and down, once, when the stream ends (done,
 * failed, or closed by the client through `return()`); each event the stream yields counts once in
 * `events`. The stream graphql-js gets is a thin async iterator over the field's own, passing every
 * call, value and error through.
 *
 * @returns how many fields are followed.
 */
export function followSubscriptions(schema: SchemaLike, active: FamilyMetric, events: FamilyMetric): number {
  const type = schema.getSubscriptionType();
  if (!type) return 0;
  let followed = 0;
  for (const field of Object.values(type.getFields())) {
    const original = field.subscribe;
    if (typeof original !== 'function' || (original as { [WRAPPED]?: unknown })[WRAPPED]) continue;
    const labels = { field: field.name };
    const follow = (stream: unknown): unknown =>
      typeof stream === 'object' && stream !== null && Symbol.asyncIterator in stream
        ? followStream(stream as AsyncIterable<unknown>, labels, active as GaugeLike, events as CounterLike)
        : stream;
    const subscribe: Subscribe = function (this: unknown, ...args) {
      const stream = original.apply(this, args);
      return stream instanceof Promise ? stream.then(follow) : follow(stream);
    };
    Object.defineProperty(subscribe, WRAPPED, { value: original });
    field.subscribe = subscribe;
    followed++;
  }
  return followed;
}

function followStream(
  stream: AsyncIterable<unknown>,
  labels: Record<string, string>,
  active: GaugeLike,
  events: CounterLike,
): AsyncIterableIterator<unknown> {
  const inner = stream[Symbol.asyncIterator]() as Iter;
  let open = true;
  const safely = (fn: () => void): void => {
    try {
      fn();
    } catch {
      // the guard throws nothing; a subscription never gets an error of ours
    }
  };
  safely(() => active.inc(labels));
  const close = (): void => {
    if (!open) return;
    open = false;
    safely(() => active.dec(labels));
  };
  const settle = (
    result: Promise<IteratorResult<unknown>>,
    counts: boolean,
  ): Promise<IteratorResult<unknown>> =>
    result.then(
      (r) => {
        if (r?.done) close();
        else if (counts && open) safely(() => events.inc(labels));
        return r;
      },
      (error: unknown) => {
        close();
        throw error;
      },
    );
  const iterator: AsyncIterableIterator<unknown> = {
    next: (...args: unknown[]) => settle(Promise.resolve(inner.next(...args)), true),
    return: (...args: unknown[]) => {
      close();
      return inner.return
        ? Promise.resolve(inner.return(...args))
        : Promise.resolve({ done: true, value: args[0] });
    },
    throw: (...args: unknown[]) => {
      close();
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the reason passes through as given
      return inner.throw ? Promise.resolve(inner.throw(...args)) : Promise.reject(args[0]);
    },
    [Symbol.asyncIterator]() {
      return iterator;
    },
  };
  return iterator;
}
