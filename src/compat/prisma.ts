/*
 * What the database recorder assumes of Prisma's client (contract test:
 * test/unit/prisma-contract.spec.ts, which generates a client and runs it over a driver adapter,
 * naming the installed version; not named compat-*, so that the Nest 10 and 11 matrix, whose
 * fixtures have no Prisma, does not run it). Verified on prisma, @prisma/client and
 * @prisma/adapter-pg 7.10.1 with both generators, `prisma-client-js` and `prisma-client`
 * (`moduleFormat = "cjs"`): both build their client on @prisma/client's runtime. Also run on 6.19.3
 * with `engineType = "client"` (VEZA_PEERS_DIR, docs/databases.md "Prisma versions"); 6.0.0's
 * runtime read: the same spans and field.
 *
 * Nothing of Prisma is loaded: a client is recognised by its shape in the application's container.
 *
 * PR1 A `PrismaClient` instance (and so an app's `class PrismaService extends PrismaClient`) keeps
 *     its tracing helper in its own field `_tracingHelper`, an object with
 *     `runInChildSpan(options, callback)`, and reads that field on every request and every
 *     `$transaction` (`this._tracingHelper.runInChildSpan(...)`), so replacing the field on the
 *     instance reaches every later query of that client and of the clients `$extends` derives from it
 *     (they read it through the instance). The helper Prisma puts there by default reads the
 *     global helper of `@prisma/instrumentation` (`globalThis.V7_PRISMA_INSTRUMENTATION` /
 *     `PRISMA_INSTRUMENTATION`) on each call, so the replacement, which delegates every call to it,
 *     keeps the application's OpenTelemetry spans whether it enabled them before or after.
 *     Fallback: a provider without that field is not taken for a client; its queries are not recorded.
 * PR2 Every model query and raw query runs inside `runInChildSpan({ name: 'operation', attributes:
 *     { method, model } }, callback)`, whether tracing is on or off, where `method` is the model
 *     action (`findMany`, `create`, `upsert`, `deleteMany`, `queryRaw`, `executeRaw`, ...) and
 *     `model` the model's name (absent for raw queries), and the callback's promise settles with the
 *     query's result or rejects with the error the application gets. A query inside an array or
 *     interactive `$transaction` is one such span too.
 *     Fallback: spans of another shape are passed through untouched and not recorded.
 * PR3 `$transaction(...)` runs inside `runInChildSpan({ name: 'transaction', attributes: { method:
 *     '$transaction' } }, callback)`, settling when the transaction has committed or rolled back.
 *     Fallback: transactions are not counted (their queries still are, by PR2).
 * PR4 A failed query rejects with a `PrismaClientKnownRequestError` whose `code` is Prisma's error
 *     code (`P2002` unique constraint, `P2025` record not found, `P2010` raw query failed, ...), or
 *     with another of Prisma's error classes (`PrismaClientValidationError`,
 *     `PrismaClientUnknownRequestError`, `PrismaClientInitializationError`,
 *     `PrismaClientRustPanicError`). Fallback: an error without such a code is labelled by its class.
 */

/** What a query of a hooked client reports when it settles. */
export interface PrismaSettled {
  /** `'operation'` for a model or raw query (PR2), `'transaction'` for `$transaction` (PR3). */
  readonly kind: 'operation' | 'transaction';
  /** The model action (`findMany`, `create`, `queryRaw`, ...); `'$transaction'` for a transaction. */
  readonly action: string;
  /** The model's name; undefined for raw queries and transactions. */
  readonly model: string | undefined;
  /** From the client's call to its result, in seconds. */
  readonly seconds: number;
  /** Whether the query rejected. */
  readonly failed: boolean;
  /** What it rejected with (undefined when it did not). */
  readonly error: unknown;
}

/** Receives each settled query of a hooked client; whatever it throws is swallowed. */
export type PrismaListener = (settled: PrismaSettled) => void;

interface TracingHelperLike {
  runInChildSpan(options: unknown, callback: (...args: unknown[]) => unknown): unknown;
}

interface ClientLike {
  _tracingHelper?: unknown;
}

/** Marks the helpers this module put in place: the hook is never stacked on itself. */
const HOOKED = Symbol('veza.prismaHook');

const isHelper = (value: unknown): value is TracingHelperLike =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { runInChildSpan?: unknown }).runInChildSpan === 'function';

/**
 * Whether `instance` is a Prisma client (PR1), told by shape without loading Prisma: the client's
 * `$transaction` and `$connect` methods and its tracing helper. A client made by `$extends` passes
 * too (it reads the helper of the client it came from).
 */
export function isPrismaClient(instance: unknown): boolean {
  if (typeof instance !== 'object' || instance === null) return false;
  try {
    const client = instance as Record<string, unknown>;
    return (
      typeof client.$transaction === 'function' &&
      typeof client.$connect === 'function' &&
      isHelper(client._tracingHelper)
    );
  } catch {
    return false;
  }
}

const now = (): number => performance.now();

/** The span's kind and attributes, when it is one this module records (PR2, PR3). */
function spanOf(
  options: unknown,
): { kind: 'operation' | 'transaction'; action: string; model: unknown } | undefined {
  if (typeof options !== 'object' || options === null) return undefined;
  const { name, attributes } = options as {
    name?: unknown;
    attributes?: { method?: unknown; model?: unknown };
  };
  if (name !== 'operation' && name !== 'transaction') return undefined;
  const method = attributes?.method;
  if (typeof method !== 'string') return undefined;
  return { kind: name, action: method, model: attributes?.model };
}

function report(listener: PrismaListener, settled: PrismaSettled): void {
  try {
    listener(settled);
  } catch {
    // The listener reports its own failures (the recorder's recordingFailed); the query is untouched.
  }
}

/**
 * Times every query and transaction of `client` (PR1-PR3) by putting, on the instance, a tracing
 * helper that delegates every call to the one there before it and reports each `operation` and
 * `transaction` span to `listener` when its promise settles. The promise the client gets back is
 * the very one Prisma's callback made: same value, same error, same timing. Returns the undo (puts
 * the previous helper back if the hook is still the one in place), or undefined when `client` is
 * not a Prisma client or is already hooked.
 */
export function hookPrismaClient(client: object, listener: PrismaListener): (() => void) | undefined {
  if (!isPrismaClient(client)) return undefined;
  const target = client as ClientLike;
  const previous = target._tracingHelper as TracingHelperLike & { [HOOKED]?: true };
  if (previous[HOOKED]) return undefined;
  // The previous helper's other methods (isEnabled, getTraceParent, getActiveContext,
  // dispatchEngineSpans, and any a later Prisma adds) are reached through the prototype.
  const hook = Object.create(previous) as TracingHelperLike & { [HOOKED]: true };
  hook[HOOKED] = true;
  hook.runInChildSpan = function runInChildSpan(
    options: unknown,
    callback: (...args: unknown[]) => unknown,
  ): unknown {
    const span = spanOf(options);
    if (span === undefined) return previous.runInChildSpan(options, callback);
    const start = now();
    const model = typeof span.model === 'string' ? span.model : undefined;
    let settled = false;
    const settle = (failed: boolean, error: unknown): void => {
      if (settled) return; // a thenable that calls back twice is reported once
      settled = true;
      report(listener, {
        kind: span.kind,
        action: span.action,
        model,
        seconds: (now() - start) / 1000,
        failed,
        error,
      });
    };
    let result: unknown;
    try {
      result = previous.runInChildSpan(options, callback);
    } catch (error) {
      settle(true, error);
      throw error;
    }
    try {
      if (typeof (result as { then?: unknown } | null)?.then === 'function') {
        // A branch of its own: the app's promise is returned as it is, and this branch never rejects.
        (result as PromiseLike<unknown>).then(
          () => settle(false, undefined),
          (error: unknown) => settle(true, error),
        );
      } else {
        settle(false, undefined);
      }
    } catch {
      // A result whose `then` cannot be read or called: not recorded, returned as it is.
    }
    return result;
  };
  target._tracingHelper = hook;
  return () => {
    if (target._tracingHelper === hook) target._tracingHelper = previous;
  };
}

/**
 * Prisma's error code of a failed query (PR4): `P` and four digits, from a
 * `PrismaClientKnownRequestError` (or the `errorCode` of a `PrismaClientInitializationError`), or
 * undefined.
 */
export function prismaErrorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  try {
    const { code, errorCode } = error as { code?: unknown; errorCode?: unknown };
    if (typeof code === 'string' && /^P\d{4}$/.test(code)) return code;
    if (typeof errorCode === 'string' && /^P\d{4}$/.test(errorCode)) return errorCode;
  } catch {
    // A hostile getter: no code.
  }
  return undefined;
}
