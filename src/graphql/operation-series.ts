import { CounterCell, HistogramCell } from '../http/metric-cells';
import { detached, MAX_LABEL_VALUE_LENGTH } from '../registry/series-guard';
import type { FamilyMetric } from './graphql-families';

/** `operation_name` of an operation without a name (and of a document that does not parse). */
export const ANONYMOUS_OPERATION = '<anonymous>';
/** `operation_name` of every name past `graphql.maxOperationNames`. */
export const OTHER_OPERATION_NAME = '<other>';
/** `operation_type` of a document that does not parse (or names no operation it holds). */
export const UNKNOWN_OPERATION_TYPE = 'unknown';

/** How a GraphQL operation ended (the `outcome` label). */
export type GraphqlOutcome = 'success' | 'request_error' | 'resolver_error' | 'internal_error';
const OUTCOMES: readonly GraphqlOutcome[] = ['success', 'request_error', 'resolver_error', 'internal_error'];

/** The operation a request runs, as labels: its type and its name as the document spells it. */
export interface OperationLabels {
  readonly type: string;
  readonly name: string;
}

export const UNKNOWN_OPERATION: OperationLabels = { type: UNKNOWN_OPERATION_TYPE, name: ANONYMOUS_OPERATION };

/** The part of an `OperationDefinition` node the recorder reads. */
export interface OperationDefinitionLike {
  readonly kind?: unknown;
  readonly operation?: unknown;
  readonly name?: { readonly value?: unknown };
  readonly variableDefinitions?: ReadonlyArray<{
    readonly type?: { readonly kind?: unknown };
    readonly defaultValue?: unknown;
  } | null>;
}
const TYPES = new Set(['query', 'mutation', 'subscription']);

/**
 * The operation of a parsed document that a request runs, by graphql-js' `getOperationAST` rule
 * (the GraphQL specification's GetOperation): the one named `operationName`, or the only one;
 * `undefined` when there is no document or no such operation.
 */
export function operationDefinitionOf(
  document: unknown,
  operationName: unknown,
): OperationDefinitionLike | undefined {
  const definitions = (document as { definitions?: unknown } | null | undefined)?.definitions;
  if (!Array.isArray(definitions)) return undefined;
  let found: OperationDefinitionLike | undefined;
  for (const d of definitions as OperationDefinitionLike[]) {
    if (d?.kind !== 'OperationDefinition') continue;
    if (typeof operationName === 'string' && operationName !== '') {
      if (d.name?.value === operationName) return d;
    } else {
      if (found) return undefined; // several operations and none chosen
      found = d;
    }
  }
  return found;
}

/**
 * The operation a request runs ({@link operationDefinitionOf}) as labels, read from the document's
 * AST; `unknown` when there is no document or no such operation. The name comes from the document,
 * never from the request's `operationName` field alone, and never the document's text.
 */
export function operationOf(document: unknown, operationName: unknown): OperationLabels {
  const found = operationDefinitionOf(document, operationName);
  if (!found || typeof found.operation !== 'string' || !TYPES.has(found.operation)) return UNKNOWN_OPERATION;
  const name = found.name?.value;
  return {
    type: found.operation,
    name: typeof name === 'string' && name !== '' ? name : ANONYMOUS_OPERATION,
  };
}

interface Series {
  readonly duration: HistogramCell<string>;
  readonly outcomes: readonly CounterCell<string>[];
}

/**
 * The series of `veza_graphql_operations_total` and `veza_graphql_operation_duration_seconds`.
 * Operation names are chosen by clients, so they are bounded here before the series guard sees
 * them: the first `maxNames` distinct names (cut to 256 units) of operations that ran (validated,
 * then executed: any outcome but `request_error`) are kept, every later one is
 * {@link OTHER_OPERATION_NAME}. A refused operation keeps its name only when an operation that ran
 * took that name's slot before; otherwise it is {@link OTHER_OPERATION_NAME}, so that documents a
 * client gets refused cannot take the slots of the application's real operations. Bound: `maxNames` names, and at most 4 × (`maxNames` + 2) entries of
 * cells (types × names, `<anonymous>` and `<other>` included).
 */
export class OperationSeries {
  private readonly names = new Set<string>();
  private readonly series = new Map<string, Series>();

  constructor(
    private readonly operations: FamilyMetric | undefined,
    private readonly durations: FamilyMetric | undefined,
    private readonly maxNames: number,
  ) {}

  /** Records one operation: counted once under its outcome, its duration observed once. */
  record(operation: OperationLabels, outcome: GraphqlOutcome, seconds: number): void {
    const name = this.bounded(operation.name, outcome !== 'request_error');
    const key = `${operation.type}\u0000${name}`;
    let series = this.series.get(key);
    if (!series) {
      const labels = { operation_type: operation.type, operation_name: name };
      series = {
        duration: new HistogramCell((this.durations ?? NO_METRIC) as never, labels),
        outcomes: OUTCOMES.map(
          (o) => new CounterCell((this.operations ?? NO_METRIC) as never, { ...labels, outcome: o }),
        ),
      };
      this.series.set(key, series);
    }
    if (this.operations) series.outcomes[OUTCOMES.indexOf(outcome)].inc();
    if (this.durations) series.duration.observe(seconds);
  }

  /** `name` as a label: kept, or given a slot when `ran` and one is free, else `<other>`. */
  private bounded(name: string, ran: boolean): string {
    if (name === ANONYMOUS_OPERATION || this.names.has(name)) return name;
    const cut = name.length > MAX_LABEL_VALUE_LENGTH ? detached(name.slice(0, MAX_LABEL_VALUE_LENGTH)) : name;
    if (this.names.has(cut)) return cut;
    if (!ran || this.names.size >= this.maxNames) return OTHER_OPERATION_NAME;
    this.names.add(cut);
    return cut;
  }
}

/** Stands for a family that is off: cells over it are built but never written. */
const NO_METRIC = { inc: (): void => undefined, observe: (): void => undefined, labelNames: [] };
