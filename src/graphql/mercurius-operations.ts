import {
  isRefusal,
  listenToMercurius,
  noteParsedDocument,
  noteRefusal,
  refusedDocument,
  type GraphqlCallArgs,
  type Settled,
} from '../compat/mercurius';
import { loadOptionalPeer } from '../compat/optional-peers';
import {
  operationDefinitionOf,
  operationOf,
  UNKNOWN_OPERATION,
  type GraphqlOutcome,
  type OperationLabels,
  type OperationSeries,
} from './operation-series';

/** Where the hooks leave the document Mercurius parsed or executes, on the request's context. */
const DOCUMENT = Symbol('veza.metrics.graphqlDocument');

/**
 * Records every operation a Mercurius server runs, heard through src/compat/mercurius.ts (M1-M5).
 * The recorder never parses a document itself on a client's refusal: a document Mercurius refused
 * from its caches is found through M4 and M5 (else `unknown`); only an execution that threw
 * (`internal_error`) without a noted document is parsed once more, to name it.
 *
 * @returns false when the instance has no Mercurius.
 */
export function observeMercurius(
  instance: unknown,
  series: OperationSeries,
  fail: (error: unknown) => void,
): boolean {
  const note = (document: unknown, context: unknown): void => {
    if (typeof context === 'object' && context !== null)
      (context as Record<PropertyKey, unknown>)[DOCUMENT] = document;
  };
  return listenToMercurius(instance, {
    parsed(document, context) {
      try {
        note(document, context);
        noteParsedDocument(document);
      } catch (error) {
        fail(error);
      }
    },
    executing: note,
    settled(args, settled, start) {
      try {
        series.record(...operationAndOutcome(args, settled), (performance.now() - start) / 1000);
      } catch (error) {
        fail(error);
      }
    },
  });
}

/** The operation and outcome of one settled call. */
function operationAndOutcome(args: GraphqlCallArgs, settled: Settled): [OperationLabels, GraphqlOutcome] {
  const [source, context, variables, operationName] = args;
  const noted = context?.[DOCUMENT];
  let outcome: GraphqlOutcome;
  let document: unknown = noted;
  if ('value' in settled) {
    outcome = resultOutcome(settled.value);
    if (outcome !== 'internal_error' && notExecuted(noted, operationName, variables, settled.value))
      outcome = 'request_error';
  } else {
    outcome = isRefusal(settled.error) ? 'request_error' : 'internal_error';
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
  return [operation, outcome];
}

function resultOutcome(value: unknown): GraphqlOutcome {
  const result = value as { data?: unknown; errors?: readonly unknown[] } | null;
  if (typeof result !== 'object' || result === null) return 'internal_error';
  if (result.data === undefined) return 'request_error';
  return Array.isArray(result.errors) && result.errors.length > 0 ? 'resolver_error' : 'success';
}

/**
 * True when Mercurius answered a result for an operation that did not run (M2 of its seam): a subscription
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

let parse: ((source: string, options?: object) => unknown) | undefined;

/** The operation of a source whose execution threw before a hook noted it: parsed with graphql-js. */
function reparse(source: unknown, operationName: unknown): OperationLabels {
  if (typeof source !== 'string') return operationOf(source, operationName);
  parse ??= (loadOptionalPeer('graphql') as { parse: typeof parse }).parse;
  try {
    return operationOf(parse?.(source, { noLocation: true }), operationName);
  } catch {
    return UNKNOWN_OPERATION;
  }
}
