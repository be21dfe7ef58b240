import { noteParsedDocument, noteRefusal, refusedDocument } from '../compat/mercurius';
import { loadOptionalPeer as loadOptional } from './load-optional';
import {
  operationDefinitionOf,
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
 * M3. `app.graphql.addHook(name, fn)` runs `fn(schema, document, context)`, with the `context` object
 *     the call received: `preValidation` after each parse (a source found in its cache of valid
 *     documents is not parsed again), `preExecution` before each execution.
 * M4, M5 (what it does not document: the document of a repeated refusal) are in src/compat/mercurius.ts.
 * Subscriptions over WebSocket do not go through M1 and are not recorded as operations.
 */

/** Where the hooks leave the document Mercurius parsed or executes, on the request's context. */
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
 * object), and `preValidation` and `preExecution` hooks note the document Mercurius parsed or
 * executes. The caller gets the very promise Mercurius returned. The recorder never parses a
 * document itself on a client's refusal: a document Mercurius refused from its caches is found
 * through M4 and M5 (else `unknown`); only an execution that threw (`internal_error`) without a
 * noted document is parsed once more, to name it.
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
  const note = (document: unknown, context: unknown): void => {
    if (typeof context === 'object' && context !== null)
      (context as Record<PropertyKey, unknown>)[DOCUMENT] = document;
  };
  graphql.addHook('preValidation', (_schema: unknown, document: unknown, context: unknown) => {
    try {
      note(document, context);
      noteParsedDocument(document);
    } catch (error) {
      fail(error);
    }
    return undefined;
  });
  graphql.addHook('preExecution', (_schema: unknown, document: unknown, context: unknown) => {
    note(document, context);
    return undefined;
  });
  const record = (args: Parameters<GraphqlCall>, settled: Settled, start: number): void => {
    try {
      const [source, context, variables, operationName] = args;
      const noted = context?.[DOCUMENT];
      let outcome: GraphqlOutcome;
      let document: unknown = noted;
      if ('value' in settled) {
        outcome = resultOutcome(settled.value);
        if (outcome !== 'internal_error' && notExecuted(noted, operationName, variables, settled.value))
          outcome = 'request_error';
      } else {
        outcome = errorOutcome(settled.error);
        if (outcome === 'request_error') {
          if (noted !== undefined) noteRefusal(settled.error, noted);
          else document = refusedDocument(settled.error);
        }
      }
      const operation =
        document !== undefined
          ? operationOf(document, operationName)
          : outcome === 'internal_error'
            ? reparse(source, operationName)
            : UNKNOWN_OPERATION;
      series.record(operation, outcome, (performance.now() - start) / 1000);
    } catch (error) {
      fail(error);
    }
  };
  app.graphql = new Proxy(graphql, {
    apply(target, self, args: Parameters<GraphqlCall>) {
      const start = performance.now();
      let result: unknown;
      try {
        result = Reflect.apply(target, self, args);
      } catch (error) {
        record(args, { error }, start);
        throw error;
      }
      if (result instanceof Promise) {
        result.then(
          (value: unknown) => record(args, { value }, start),
          (error: unknown) => record(args, { error }, start),
        );
      }
      return result;
    },
  });
  Object.defineProperty(app, OBSERVED, { value: true });
  return true;
}

type Settled = { value: unknown } | { error: unknown };

function resultOutcome(value: unknown): GraphqlOutcome {
  const result = value as { data?: unknown; errors?: readonly unknown[] } | null;
  if (typeof result !== 'object' || result === null) return 'internal_error';
  if (result.data === undefined) return 'request_error';
  return Array.isArray(result.errors) && result.errors.length > 0 ? 'resolver_error' : 'success';
}

/**
 * True when Mercurius answered a result for an operation that did not run (M2): a subscription
 * (not served over HTTP: graphql-js' `execute` then resolves its root fields as a query's), or one
 * that graphql-js' `execute` refused before running anything, which Mercurius answers with
 * `data: null` like a resolver error on a non-null root field: the document names no operation to
 * run (an `operationName` it does not define, or several operations and none chosen), or a variable
 * of a non-null type without a default is missing (Mercurius checks variables itself only when the
 * request has some). The rules of the GraphQL specification's GetOperation and CoerceVariableValues.
 */
function notExecuted(
  document: unknown,
  operationName: unknown,
  variables: unknown,
  result: unknown,
): boolean {
  if (document === undefined) return false;
  const operation = operationDefinitionOf(document, operationName);
  if (operation?.operation === 'subscription') return true;
  if ((result as { data?: unknown }).data != null) return false;
  if (!operation) return true;
  if (typeof variables === 'object' && variables !== null) return false;
  return (operation.variableDefinitions ?? []).some(
    (v) => v?.type?.kind === 'NonNullType' && v.defaultValue === undefined,
  );
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

/** The operation of a source whose execution threw before a hook noted it: parsed with graphql-js. */
function reparse(source: unknown, operationName: unknown): OperationLabels {
  if (typeof source !== 'string') return operationOf(source, operationName);
  parse ??= (loadOptional('graphql') as { parse: typeof parse }).parse;
  try {
    return operationOf(parse?.(source, { noLocation: true }), operationName);
  } catch {
    return UNKNOWN_OPERATION;
  }
}
