/**
 * Every kind of GraphQL request and what each driver records for it, in order: the one list that
 * test/e2e/graphql-outcomes.e2e-spec.ts sends (one request per row, to a fresh app with the default
 * `maxOperationNames`) and test/unit/docs.spec.ts finds as the table of docs/graphql.md, so the
 * two cannot drift. Plain data: the docs check loads no GraphQL package.
 */

export const DRIVERS = ['apollo-express', 'apollo-fastify', 'mercurius'] as const;
export type Driver = (typeof DRIVERS)[number];

/** The column heading of each driver in docs/graphql.md. */
export const DRIVER_HEADINGS: Readonly<Record<Driver, string>> = {
  'apollo-express': 'Apollo on Express',
  'apollo-fastify': 'Apollo on Fastify',
  mercurius: 'Mercurius',
};

export interface GraphqlRequest {
  readonly query: string;
  readonly operationName?: string;
  readonly variables?: Record<string, unknown>;
}

export interface RequestKind {
  /** The first cell of the row. */
  readonly kind: string;
  readonly request: GraphqlRequest;
  /** `operation_type operation_name outcome` of the one operation counted, per driver. */
  readonly recorded: Readonly<Record<Driver, string>>;
}

/** The same on every driver. */
function everywhere(recorded: string): Record<Driver, string> {
  return { 'apollo-express': recorded, 'apollo-fastify': recorded, mercurius: recorded };
}

const GET_TRACK = 'query GetTrack($id: Int!) { track(id: $id) { id title } }';

/**
 * The operation `Broken` makes the server's execution step throw (an Apollo `rootValue` function,
 * a Mercurius `preExecution` hook of the application); `ticks` is a subscription field.
 */
export const REQUEST_KINDS: readonly RequestKind[] = [
  {
    kind: 'valid',
    request: { query: GET_TRACK, variables: { id: 1 } },
    recorded: everywhere('query GetTrack success'),
  },
  {
    kind: 'invalid syntax',
    request: { query: 'query GetTrack {' },
    recorded: everywhere('unknown <anonymous> request_error'),
  },
  {
    kind: 'invalid document (validation)',
    request: { query: 'query GetTrack { nope }' },
    recorded: everywhere('query GetTrack request_error'),
  },
  {
    kind: 'the same invalid document again',
    request: { query: 'query GetTrack { nope }' },
    recorded: everywhere('query GetTrack request_error'),
  },
  {
    kind: 'invalid document, named as no operation that ran',
    request: { query: 'query Junk { nope }' },
    recorded: everywhere('query <other> request_error'),
  },
  {
    kind: 'unknown operation name',
    request: { query: GET_TRACK, operationName: 'Nope', variables: { id: 1 } },
    recorded: everywhere('unknown <anonymous> request_error'),
  },
  {
    kind: 'unknown operation name, no variables',
    request: { query: 'query Tracks { tracks { id } }', operationName: 'Nope' },
    recorded: everywhere('unknown <anonymous> request_error'),
  },
  {
    kind: 'ambiguous operation (several without operationName)',
    request: { query: 'query A { tracks { id } } query B { tracks { title } }' },
    recorded: everywhere('unknown <anonymous> request_error'),
  },
  {
    kind: 'subscription over HTTP',
    request: { query: 'subscription Ticks { ticks }' },
    recorded: everywhere('subscription <other> request_error'),
  },
  {
    kind: 'missing variables',
    request: { query: GET_TRACK },
    recorded: everywhere('query GetTrack request_error'),
  },
  {
    kind: 'wrong variables',
    request: { query: GET_TRACK, variables: { id: 'one' } },
    recorded: everywhere('query GetTrack request_error'),
  },
  {
    kind: 'resolver error',
    request: { query: 'query Fails { failing }' },
    recorded: everywhere('query Fails resolver_error'),
  },
  {
    kind: 'internal error (the execution step threw)',
    request: { query: 'query Broken { tracks { id } }' },
    recorded: everywhere('query Broken internal_error'),
  },
];

/** The request of a row as the docs show it: its query, then its `operationName` and variables. */
export function requestCell(request: GraphqlRequest): string {
  const parts = [`\`${request.query}\``];
  if (request.operationName !== undefined) parts.push(`operationName \`${request.operationName}\``);
  if (request.variables !== undefined) parts.push(`variables \`${JSON.stringify(request.variables)}\``);
  return parts.join(', ');
}

/** The table of docs/graphql.md, row by row, as the docs check expects it (cells trimmed). */
export function requestKindsTable(): string[][] {
  return [
    ['request', 'sent', ...DRIVERS.map((d) => DRIVER_HEADINGS[d])],
    ...REQUEST_KINDS.map((row) => [
      row.kind,
      requestCell(row.request),
      ...DRIVERS.map((d) => `\`${row.recorded[d]}\``),
    ]),
  ];
}
