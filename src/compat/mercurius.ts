/*
 * What this library assumes of Mercurius' refusals (an optional peer: never imported). The public
 * surface the GraphQL recorder uses (the instance's `app.graphql`, its `preValidation` and
 * `preExecution` hooks) is M1-M3 at the top of src/graphql/mercurius-operations.ts; this file holds
 * what Mercurius does not document. Contract test: test/unit/compat-mercurius.spec.ts, which names
 * the assumption and the installed version when one breaks. Verified on mercurius 16.10.1.
 *
 * M4 A document refused by validation is kept in Mercurius' error cache (its `cache` option, on by
 *    default), and each later request of the same source is refused, without parsing, with a
 *    `MER_ERR_GQL_VALIDATION` whose `errors` is the very array of the first refusal. Why: name the
 *    operation of a repeated refused document from the document Mercurius parsed the first time
 *    (parsing it again cost 93 ms of CPU per request for a 560 KB document, against 8 ms for
 *    Mercurius' whole answer). Fallback: no document found, the operation is `unknown`
 *    `<anonymous>` (still counted once, as `request_error`).
 * M5 Variables refused for a document Mercurius had cached (no parse, no `preValidation`) come back
 *    as a `MER_ERR_GQL_VALIDATION` whose `errors` are graphql-js' errors, each with the document's
 *    own `VariableDefinition` node in `nodes`. Why: as M4, for a cached valid document sent with
 *    missing or wrong variables. Fallback: as M4.
 *
 * Bound: the documents are remembered in a WeakMap keyed by objects only Mercurius' own caches
 * (bounded by its `cache` option, 1,024 by default) keep alive; an entry goes with its key.
 */

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
