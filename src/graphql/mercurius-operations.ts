import { loadOptionalPeer as loadOptional } from './load-optional';
import {
  operationOf,
  UNKNOWN_OPERATION,
  type GraphqlOutcome,
  type OperationLabels,
  type OperationSeries,
} from './operation-series';

/*
 * Mercurius (16), as this file relies on it; test/e2e/graphql-metrics.e2e-spec.ts runs a real server:
 * M1. It decorates the Fastify instance with `graphql(source, context, variables, operationName)`,
 *     and every HTTP request (GET and POST, batched queries one by one) runs through
 *     `reply.graphql()`, which calls `app.graphql(...)` as a property of the instance each time.
 * M2. That call resolves to the execution result (`data` and `errors` as sent) and rejects for a
 *     document that does not parse or validate and for refused variables (`MER_ERR_GQL_VALIDATION`,
 *     answered 400), and for an execution that threw.
 * M3. `app.graphql.addHook('preExecution', fn)` runs `fn(schema, document, context)` before each
 *     execution, with the `context` object the call received.
 * Subscriptions over WebSocket do not go through M1 and are not recorded as operations.
 */

/** Where the `preExecution` hook leaves the executed document on the request's context. */
const DOCUMENT = Symbol('veza.metrics.graphqlDocument');
const OBSERVED = Symbol.for('veza.metrics.mercuriusObserved');

type GraphqlCall = (
  this: unknown,
  source: unknown,
  context?: Record<PropertyKey, unknown>,
  variables?: unknown,
  operationName?: unknown,
) => unknown;
interface MercuriusLike extends GraphqlCall {
  addHook(name: string, fn: (...args: unknown[]) => unknown): void;
}
interface FastifyLike {
  graphql?: MercuriusLike;
}

/**
 * Records every operation a Mercurius server runs (M1–M3): the instance's `graphql` becomes a
 * Proxy of itself that only times calls (reads and writes of its properties go to Mercurius'
 * object), and a `preExecution` hook notes the document executed. The caller gets the very promise
 * Mercurius returned. A document that failed to parse or validate is parsed once more, on that
 * error path only, to learn its type and name.
 *
 * @returns false when the instance has no Mercurius.
 */
export function observeMercurius(
  instance: unknown,
  series: OperationSeries,
  fail: (error: unknown) => void,
): boolean {
  const app = instance as (FastifyLike & { [OBSERVED]?: true }) | undefined;
  const graphql = app?.graphql;
  if (!app || typeof graphql !== 'function' || typeof graphql.addHook !== 'function' || app[OBSERVED])
    return false;
  graphql.addHook('preExecution', (_schema: unknown, document: unknown, context: unknown) => {
    if (typeof context === 'object' && context !== null)
      (context as Record<PropertyKey, unknown>)[DOCUMENT] = document;
    return undefined;
  });
  const record = (
    context: unknown,
    source: unknown,
    operationName: unknown,
    outcome: GraphqlOutcome,
    start: number,
  ): void => {
    try {
      const document = (context as Record<PropertyKey, unknown> | undefined)?.[DOCUMENT];
      const operation =
        document !== undefined ? operationOf(document, operationName) : reparse(source, operationName);
      series.record(operation, outcome, (performance.now() - start) / 1000);
    } catch (error) {
      fail(error);
    }
  };
  app.graphql = new Proxy(graphql, {
    apply(target, self, args: Parameters<GraphqlCall>) {
      const start = performance.now();
      const [source, context, , operationName] = args;
      let result: unknown;
      try {
        result = Reflect.apply(target, self, args);
      } catch (error) {
        record(context, source, operationName, 'internal_error', start);
        throw error;
      }
      if (result instanceof Promise) {
        result.then(
          (value: unknown) => record(context, source, operationName, resultOutcome(value), start),
          (error: unknown) => record(context, source, operationName, errorOutcome(error), start),
        );
      }
      return result;
    },
  });
  Object.defineProperty(app, OBSERVED, { value: true });
  return true;
}

function resultOutcome(value: unknown): GraphqlOutcome {
  const result = value as { data?: unknown; errors?: readonly unknown[] } | null;
  if (typeof result !== 'object' || result === null) return 'internal_error';
  if (result.data === undefined) return 'request_error';
  return Array.isArray(result.errors) && result.errors.length > 0 ? 'resolver_error' : 'success';
}

/** Mercurius' refusals of a request (M2) are `MER_ERR_GQL_VALIDATION`, or another 4xx of its own. */
function errorOutcome(error: unknown): GraphqlOutcome {
  const e = error as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e === 'object' && e !== null) {
    if (e.code === 'MER_ERR_GQL_VALIDATION') return 'request_error';
    if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return 'request_error';
  }
  return 'internal_error';
}

let parse: ((source: string, options?: object) => unknown) | undefined;

/** The operation of a source no execution ran: parsed with graphql-js (the error path only). */
function reparse(source: unknown, operationName: unknown): OperationLabels {
  if (typeof source !== 'string') return operationOf(source, operationName);
  parse ??= (loadOptional('graphql') as { parse: typeof parse }).parse;
  try {
    return operationOf(parse?.(source, { noLocation: true }), operationName);
  } catch {
    return UNKNOWN_OPERATION;
  }
}
