import { resolveOptions } from '../../src/veza-metrics.options';
import {
  operationOf,
  OperationSeries,
  OTHER_OPERATION_NAME,
  UNKNOWN_OPERATION,
} from '../../src/graphql/operation-series';
import { parse } from 'graphql';

describe('graphql option', () => {
  it.each<[unknown, object]>([
    [undefined, { enabled: true, operations: true, resolvers: 'root-and-resolved', maxOperationNames: 100 }],
    [true, { enabled: true, operations: true, resolvers: 'root-and-resolved', maxOperationNames: 100 }],
    [false, { enabled: false, operations: true, resolvers: 'root-and-resolved', maxOperationNames: 100 }],
    [{ resolvers: 'all' }, { enabled: true, operations: true, resolvers: 'all', maxOperationNames: 100 }],
    [
      { resolvers: false, operations: false },
      { enabled: true, operations: false, resolvers: 'none', maxOperationNames: 100 },
    ],
    [
      { enabled: false, maxOperationNames: 5 },
      { enabled: false, operations: true, resolvers: 'root-and-resolved', maxOperationNames: 5 },
    ],
  ])('resolves %p', (graphql, expected) => {
    expect(resolveOptions({ graphql } as never).graphql).toEqual(expected);
  });

  it.each<[unknown, string]>([
    [
      'yes',
      'option "graphql" must be true, false or { enabled?, operations?, resolvers?, maxOperationNames? }',
    ],
    [{ resolvers: 'some' }, 'option "graphql.resolvers" must be true, false or \'all\''],
    [{ maxOperationNames: 0 }, 'option "graphql.maxOperationNames" must be an integer from 1 to 10000'],
    [{ enabled: 1 }, 'option "graphql.enabled" must be a boolean'],
    [{ resolver: true }, 'unknown option "graphql.resolver"'],
  ])('refuses %p at start-up, naming the option', (graphql, message) => {
    expect(() => resolveOptions({ graphql } as never)).toThrow(message);
  });
});

describe('operationOf', () => {
  it.each<[string, string | undefined, object]>([
    ['query GetTrack { a }', undefined, { type: 'query', name: 'GetTrack' }],
    ['{ a }', undefined, { type: 'query', name: '<anonymous>' }],
    ['mutation { a }', undefined, { type: 'mutation', name: '<anonymous>' }],
    ['subscription S { a }', undefined, { type: 'subscription', name: 'S' }],
    ['query A { a } query B { b }', 'B', { type: 'query', name: 'B' }],
    ['query A { a } mutation B { b }', undefined, UNKNOWN_OPERATION],
    ['query A { a }', 'Other', UNKNOWN_OPERATION],
    ['fragment F on Q { a }', undefined, UNKNOWN_OPERATION],
  ])('%s (operationName %p)', (source, operationName, expected) => {
    expect(operationOf(parse(source), operationName)).toEqual(expected);
  });

  it('gives unknown for what is not a document', () => {
    for (const value of [undefined, null, 'query A { a }', { definitions: 'x' }, 42])
      expect(operationOf(value, undefined)).toEqual(UNKNOWN_OPERATION);
  });
});

describe('OperationSeries', () => {
  it('keeps the first maxNames names, then <other>; <anonymous> is always itself; sums are exact', () => {
    const seen: string[] = [];
    const counter = {
      labelNames: ['operation_type', 'operation_name', 'outcome'],
      inc: (labels: { operation_name: string }) => seen.push(labels.operation_name),
    };
    const series = new OperationSeries(counter, undefined, 3);
    for (let i = 0; i < 10; i++) series.record({ type: 'query', name: `Op${i}` }, 'success', 0.001);
    series.record({ type: 'query', name: '<anonymous>' }, 'success', 0.001);
    series.record({ type: 'query', name: 'Op1' }, 'success', 0.001);
    expect(seen).toEqual(['Op0', 'Op1', 'Op2', ...Array(7).fill(OTHER_OPERATION_NAME), '<anonymous>', 'Op1']);
  });
});
