import type { GraphqlOutcome } from './operation-series';

interface ResultLike {
  readonly data?: unknown;
  readonly errors?: readonly unknown[];
}

/** The part of Apollo Server's request context (4 and 5) the recorder reads. */
export interface ApolloRequestContext {
  readonly request?: { readonly operationName?: unknown };
  readonly document?: unknown;
  readonly operation?: { readonly operation?: unknown } | null;
  readonly response?: {
    readonly body?: {
      readonly kind?: string;
      readonly singleResult?: ResultLike;
      readonly initialResult?: ResultLike;
    };
  };
}

/**
 * The outcome of one Apollo request: `request_error` when the document did not parse, did not
 * validate, named no operation or its variables were refused (the result then has no `data`), or
 * the operation is a subscription (Apollo Server serves none over HTTP: graphql-js' `execute` then
 * resolves its root fields as a query's, and what comes back is no answer to a subscription);
 * `internal_error` when the execution threw (or no result came back); `resolver_error` when `data`
 * came back with errors; `success` otherwise. An incremental result is judged by its first part.
 */
export function apolloOutcome(context: ApolloRequestContext, executionThrew: boolean): GraphqlOutcome {
  if (!context.document || !context.operation) return 'request_error';
  if (context.operation.operation === 'subscription') return 'request_error';
  if (executionThrew) return 'internal_error';
  const body = context.response?.body;
  const result = body?.kind === 'incremental' ? body.initialResult : body?.singleResult;
  if (!result) return 'internal_error';
  if (!('data' in result) || result.data === undefined) return 'request_error';
  return result.errors && result.errors.length > 0 ? 'resolver_error' : 'success';
}
