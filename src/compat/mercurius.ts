/*
 * What this library assumes of Mercurius (16; an optional peer: never imported). The GraphQL
 * recorder (src/graphql/mercurius-operations.ts) reaches it only through this file. Contract test:
 * test/unit/compat-mercurius.spec.ts, which names the assumption and the installed version when one
 * breaks; test/e2e/graphql-metrics.e2e-spec.ts runs a real server. Verified on mercurius 16.10.1.
 *
 * M1 It decorates the Fastify instance with `graphql(source, context, variables, operationName)`,
 *    and every HTTP request (GET and POST, batched queries one by one) runs through
 *    `reply.graphql()`, which calls `app.graphql(...)` as a property of the instance each time, so
 *    a Proxy set in its place sees every call. Why: time each operation from its start. Fallback:
 *    none needed for the answer (the Proxy only times; reads and writes of its properties go to
 *    Mercurius' object); a Mercurius that called another reference would leave operations
 *    unrecorded, which the contract test and the e2e spec show first.
 * M2 That call resolves to the execution result (`data` and `errors` as sent) and rejects for a
 *    document that does not parse or validate and for refused variables (`MER_ERR_GQL_VALIDATION`,
 *    answered 400, or another 4xx of its own), and for an execution that threw. Why: the outcome.
 *    Fallback: a rejection of no known kind is `internal_error`.
 * M3 `app.graphql.addHook(name, fn)` runs `fn(schema, document, context)`, with the `context`
 *    object the call received: `preValidation` after each parse (a source found in its cache of
 *    valid documents is not parsed again), `preExecution` before each execution. Why: name the
 *    operation from the document Mercurius parsed, never parsing it again. Fallback: no document
 *    noted: the operation is `unknown` (an execution that threw is parsed once more, to name it).
 * Subscriptions over WebSocket do not go through M1 and are not recorded as operations.
 *
 * M4 A document refused by validation is kept in Mercurius' error cache (its `cache` option, on by
 *    default), and each later request of the same source is refused, without parsing, with a
 *    `MER_ERR_GQL_VALIDATION` whose `errors` is the very array of the first refusal. Why: name the
 *    operation of a repeated refused document from the document Mercurius parsed the first time,
 *    never parsing it again (the cost is in docs/internals.md, M4). Fallback: no document found,
 *    the operation is `unknown` `<anonymous>` (still counted once, as `request_error`).
 * M5 Variables refused for a document Mercurius had cached (no parse, no `preValidation`) come back
 *    as a `MER_ERR_GQL_VALIDATION` whose `errors` are graphql-js' errors, each with the document's
 *    own `VariableDefinition` node in `nodes`. Why: as M4, for a cached valid document sent with
 *    missing or wrong variables. Fallback: as M4.
 *
 * Bound: the documents are remembered in a WeakMap keyed by objects only Mercurius' own caches
 * (bounded by its `cache` option, 1,024 by default) keep alive; an entry goes with its key.
 */

/** One `app.graphql(...)` call's arguments (M1). */
export type GraphqlCallArgs = [
  source: unknown,
  context?: Record<PropertyKey, unknown>,
  variables?: unknown,
  operationName?: unknown,
];
/** How a call ended (M2). */
export type Settled = { value: unknown } | { error: unknown };

/** What the recorder hears of a Mercurius server; none of these may throw. */
export interface MercuriusListener {
  /** `preValidation` (M3): the document Mercurius just parsed, with the call's context. */
  parsed(document: unknown, context: unknown): void;
  /** `preExecution` (M3): the document about to run, with the call's context. */
  executing(document: unknown, context: unknown): void;
  /** A call settled (M1, M2), `start` its `performance.now()`. */
  settled(args: GraphqlCallArgs, settled: Settled, start: number): void;
}

type GraphqlCall = (this: unknown, ...args: GraphqlCallArgs) => unknown;
interface MercuriusLike extends GraphqlCall {
  addHook(name: string, fn: (...args: unknown[]) => unknown): void;
}
const OBSERVED = Symbol.for('veza.metrics.mercuriusObserved');

/**
 * Hears every operation a Mercurius server runs (M1-M3): the instance's `graphql` becomes a Proxy of
 * itself that only times calls (reads and writes of its properties go to Mercurius' object), and
 * `preValidation` and `preExecution` hooks hand over the document. The caller gets the very value
 * or promise Mercurius returned, and the very error it threw.
 *
 * @returns false when the instance has no Mercurius, or is heard already.
 */
export function listenToMercurius(instance: unknown, listener: MercuriusListener): boolean {
  const app = instance as { graphql?: MercuriusLike; [OBSERVED]?: true } | undefined;
  const graphql = app?.graphql;
  if (!app || typeof graphql !== 'function' || typeof graphql.addHook !== 'function' || app[OBSERVED])
    return false;
  graphql.addHook('preValidation', (_schema: unknown, document: unknown, context: unknown) => {
    listener.parsed(document, context);
    return undefined;
  });
  graphql.addHook('preExecution', (_schema: unknown, document: unknown, context: unknown) => {
    listener.executing(document, context);
    return undefined;
  });
  app.graphql = new Proxy(graphql, {
    apply(target, self, args: GraphqlCallArgs) {
      const start = performance.now();
      let result: unknown;
      try {
        result = Reflect.apply(target, self, args);
      } catch (error) {
        listener.settled(args, { error }, start);
        throw error;
      }
      if (result instanceof Promise) {
        result.then(
          (value: unknown) => listener.settled(args, { value }, start),
          (error: unknown) => listener.settled(args, { error }, start),
        );
      }
      return result;
    },
  });
  Object.defineProperty(app, OBSERVED, { value: true });
  return true;
}

/** Whether a rejection (M2) is Mercurius refusing the request: `MER_ERR_GQL_VALIDATION`, or a 4xx of its own. */
export function isRefusal(error: unknown): boolean {
  const e = error as { code?: unknown; statusCode?: unknown } | null;
  if (typeof e !== 'object' || e === null) return false;
  if (e.code === 'MER_ERR_GQL_VALIDATION') return true;
  return typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500;
}

/** Each key (a refusal's `errors` array, a `VariableDefinition` node) to the document it came from. */
const origins = new WeakMap<object, object>();

interface DefinitionLike {
  readonly kind?: unknown;
  readonly variableDefinitions?: readonly unknown[];
}

/**
 * Notes a document Mercurius just parsed (its `preValidation` hook): its variable definitions lead
 * back to it when its variables are refused later (M5).
 */
export function noteParsedDocument(document: unknown): void {
  const definitions = (document as { definitions?: unknown } | null | undefined)?.definitions;
  if (!Array.isArray(definitions)) return;
  for (const d of definitions as DefinitionLike[]) {
    if (d?.kind !== 'OperationDefinition' || !Array.isArray(d.variableDefinitions)) continue;
    for (const v of d.variableDefinitions as readonly unknown[])
      if (typeof v === 'object' && v !== null) origins.set(v, document as object);
  }
}

/** Notes the document a refusal came from, for the same refusal repeated from the error cache (M4). */
export function noteRefusal(error: unknown, document: unknown): void {
  const errors = (error as { errors?: unknown } | null | undefined)?.errors;
  if (Array.isArray(errors) && typeof document === 'object' && document !== null)
    origins.set(errors, document);
}

/** The document a refusal came from (M4, M5), or `undefined` when it cannot be told. */
export function refusedDocument(error: unknown): object | undefined {
  const errors = (error as { errors?: unknown } | null | undefined)?.errors;
  if (!Array.isArray(errors)) return undefined;
  const cached = origins.get(errors);
  if (cached) return cached;
  for (const e of errors as Array<{ nodes?: unknown } | null>) {
    const node = Array.isArray(e?.nodes) ? (e.nodes[0] as unknown) : undefined;
    const document = typeof node === 'object' && node !== null ? origins.get(node) : undefined;
    if (document) return document;
  }
  return undefined;
}
