import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ts from 'typescript';
import { SERVE_CLUSTER_OPTIONS_SCHEMA } from '../../src/cluster/serve-cluster-metrics';
import { CLUSTER_AT } from '../../src/cluster/cluster-options';
import {
  boolean,
  integer,
  MODULE_MESSAGES,
  object,
  shapeOf,
  type At,
  type Rule,
} from '../../src/options/option-schema';
import { MODULE_OPTIONS_SCHEMA } from '../../src/veza-metrics.options';
import { decoratorAt } from '../../src/instrumentation/decorator-options';
import { TIMED_OPTIONS_SCHEMA } from '../../src/decorators/timed.decorator';

interface TwoOptions {
  enabled?: boolean;
  limit?: number;
}

const TYPE_TIE = join(__dirname, 'fixtures', 'option-schema-type-tie.ts');
const DECORATOR_TYPE_TIE = join(__dirname, 'fixtures', 'decorator-schema-type-tie.ts');

/** The TypeScript diagnostics of `file` itself (not of what it imports) under the project's options. */
function diagnosticsOf(file: string): string[] {
  const config = ts.getParsedCommandLineOfConfigFile(
    join(__dirname, '..', '..', 'tsconfig.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: () => undefined,
    },
  );
  const program = ts.createProgram([file], { ...config!.options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program, program.getSourceFile(file))
    .map(
      (d) =>
        `${d.file ? relative(process.cwd(), d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
    );
}

describe('a schema is tied to its options interface by type', () => {
  it('does not compile with a key of the interface left out, nor with a key the interface lacks', () => {
    // The fixture's `@ts-expect-error` lines (a shape without `limit`, a shape with `limt`) must be
    // type errors, and the module's and serveClusterMetrics' schemas must have exactly the keys
    // of VezaMetricsModuleOptions and ClusterMetricsServerOptions.
    expect(diagnosticsOf(TYPE_TIE)).toEqual([]);
    const source = readFileSync(TYPE_TIE, 'utf8');
    expect(source.match(/^\/\/ @ts-expect-error/gm)).toHaveLength(2);
  }, 120_000);

  it("ties every decorator's options schema to its options interface the same way", () => {
    // test/unit/fixtures/decorator-schema-type-tie.ts: `@Timed`'s shape without `buckets`, with a
    // `bucket`, and the generic options with `on` must be type errors, and each decorator's schema
    // (COUNTED_OPTIONS_SCHEMA, TIMED_OPTIONS_SCHEMA, ...) must have exactly its interface's keys.
    expect(diagnosticsOf(DECORATOR_TYPE_TIE)).toEqual([]);
    const source = readFileSync(DECORATOR_TYPE_TIE, 'utf8');
    expect(source.match(/^\s*\/\/ @ts-expect-error/gm)).toHaveLength(3);
  }, 120_000);

  it("speaks a decorator's words through its schema", () => {
    const at = decoratorAt('@Timed("veza_x_seconds")', 'JobService#run');
    expect(
      errorOf(() => TIMED_OPTIONS_SCHEMA.resolve({ name: 'veza_x_seconds', help: 'x', bukets: [1] }, at, {})),
    ).toBe(
      '@Timed("veza_x_seconds") on "JobService#run": unknown option "bukets"; expected one of name, help, labelNames, labels, buckets, nativeHistogram.',
    );
    expect(
      errorOf(() =>
        TIMED_OPTIONS_SCHEMA.resolve({ name: 'veza_x_seconds', help: 'x', buckets: [2, 1] }, at, {}),
      ),
    ).toBe(
      '@Timed("veza_x_seconds") on "JobService#run": "buckets" must be a non-empty array of finite numbers in strictly increasing order, got an array ([2,1]).',
    );
  });

  it("lists the schema's keys, in its order, when a key is unknown", () => {
    const at: At = { path: '', messages: MODULE_MESSAGES };
    expect(() => MODULE_OPTIONS_SCHEMA.resolve({ pth: '/metrics' }, at, {})).toThrow(
      new Error(
        'VezaMetricsModule: unknown option "pth"; expected one of path, defaultMetrics, defaultLabels, ' +
          'registry, buckets, statusLabel, naming, http, appEndpoint, metricsServer, auth, scrape, ' +
          'cardinality, exemplars, pushgateway, remoteWrite, cluster, pm2, graphql, rpc, queues, cache, health, outbound, database, nativeHistograms.',
      ),
    );
  });
});

/** Valid values for the objects that have required keys, by option path. */
const MODULE_BASES: Record<string, Record<string, unknown>> = {
  metricsServer: { port: 0 },
  auth: { bearerToken: 'token' },
  'auth.basic': { username: 'user', password: 'secret' },
  pushgateway: { url: 'http://pushgateway:9091', jobName: 'job' },
  remoteWrite: { url: 'http://prometheus:9090/api/v1/write' },
};
const CLUSTER_BASES: Record<string, Record<string, unknown>> = { ...MODULE_BASES, '': { port: 0 } };

/** A valid name in each record (an object of names to values), by option path. */
const RECORD_KEYS: Record<string, string> = {
  defaultLabels: 'env',
  buckets: 'veza_http_request_duration_seconds',
  'cardinality.perMetric': 'veza_errors_total',
  'pushgateway.groupings': 'tenant',
  'pushgateway.headers': 'x-token',
  'remoteWrite.headers': 'x-scope-orgid',
  'outbound.hosts': 'api.stripe.com',
  aggregators: 'veza_active_users',
  'pm2.aggregators': 'veza_active_users',
};

/** Every option path a schema checks: each key of each object, each record's values. */
function optionPaths(rule: Rule<unknown>, path: string[] = []): string[][] {
  const paths: string[][] = [];
  if (rule.shape) {
    for (const [key, inner] of Object.entries(rule.shape)) {
      paths.push([...path, key], ...optionPaths(inner, [...path, key]));
    }
  }
  if (rule.entries) {
    const key = RECORD_KEYS[path.join('.')];
    if (key === undefined) throw new Error(`RECORD_KEYS has no sample name for "${path.join('.')}"`);
    paths.push([...path, key], ...optionPaths(rule.entries, [...path, key]));
  }
  return paths;
}

/** Options that are valid everywhere except at `path`, which holds `value`. */
function optionsWith(bases: Record<string, Record<string, unknown>>, path: string[], value: unknown) {
  const root: Record<string, unknown> = { ...bases[''] };
  let parent = root;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      parent[key] = value;
    } else {
      const next = { ...bases[path.slice(0, i + 1).join('.')] };
      parent[key] = next;
      parent = next;
    }
  });
  return root;
}

function errorOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    return (error as Error).message;
  }
  return '(no error)';
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe.each([
  [
    'forRoot',
    MODULE_OPTIONS_SCHEMA,
    { path: '', messages: MODULE_MESSAGES },
    MODULE_BASES,
    'VezaMetricsModule:',
  ],
  ['serveClusterMetrics', SERVE_CLUSTER_OPTIONS_SCHEMA, CLUSTER_AT, CLUSTER_BASES, 'VezaMetrics cluster:'],
] as const)("every rule of %s' schema", (_name, schema, at, bases, prefix) => {
  const paths = optionPaths(schema).map((p) => [p.join('.'), p] as const);

  it('is reached by the walk', () => {
    expect(paths.length).toBeGreaterThan(_name === 'forRoot' ? 50 : 15);
    expect(errorOf(() => schema.resolve(optionsWith(bases, [], undefined), at, {}))).toBe('(no error)');
  });

  it.each(paths)('names "%s" and says what it must be when it is wrong', (dotted, path) => {
    const message = errorOf(() => schema.resolve(optionsWith(bases, path, Symbol('probe')), at, {}));
    const said = new RegExp(`^${escape(prefix)} option "${escape(dotted)}" must be (.+), got (.+)\\.$`).exec(
      message,
    );
    expect({ message, names: said !== null }).toEqual({ message, names: true });
    const [, fix, got] = said!;
    expect(fix).toMatch(/^(an? |one of |true, |\{ |"|at least )/);
    expect(got).toMatch(/^symbol probe$|^the string "\(hidden\)"$/);
  });

  it.each(paths.filter(([, p]) => schemaAt(schema, p)?.shape !== undefined))(
    'lists the keys of "%s" when one is unknown',
    (dotted, path) => {
      const inner = schemaAt(schema, path)!;
      const parentBase = { ...bases[dotted], zz: 1 };
      const message = errorOf(() => schema.resolve(optionsWith(bases, path, parentBase), at, {}));
      expect(message).toBe(
        `${prefix} unknown option "${dotted}.zz"; expected one of ${Object.keys(inner.shape!).join(', ')}.`,
      );
    },
  );
});

/** The rule at `path` of `schema` (through objects and records). */
function schemaAt(schema: Rule<unknown>, path: readonly string[]): Rule<unknown> | undefined {
  let rule: Rule<unknown> | undefined = schema;
  for (const key of path) rule = rule?.shape?.[key] ?? rule?.entries;
  return rule;
}

describe('the one label-name rule', () => {
  it.each(['defaultLabels', 'pushgateway.groupings'])(
    'refuses a key of "%s" Prometheus keeps for itself',
    (dotted) => {
      const path = [...dotted.split('.'), '__name'];
      const message = errorOf(() =>
        MODULE_OPTIONS_SCHEMA.resolve(
          optionsWith(MODULE_BASES, path, 'x'),
          { path: '', messages: MODULE_MESSAGES },
          {},
        ),
      );
      expect(message).toBe(
        `VezaMetricsModule: option "${dotted}" must have Prometheus label names as keys (letters, digits and _, not starting with a digit or __), got the key "__name".`,
      );
    },
  );
});

describe('object', () => {
  it("checks in `order` but lists and returns the keys in the shape's order", () => {
    const rule = object(
      shapeOf<TwoOptions>()({ enabled: boolean(true), limit: integer(1, 10, 5) }),
      '{ enabled?, limit? }',
      { order: ['limit', 'enabled'] },
    );
    const at: At = { path: 'two', messages: MODULE_MESSAGES };
    expect(errorOf(() => rule.resolve({ enabled: 1, limit: 0 }, at, {}))).toBe(
      'VezaMetricsModule: option "two.limit" must be an integer from 1 to 10, got number 0.',
    );
    expect(Object.keys(rule.resolve({ limit: 2 }, at, {}))).toEqual(['enabled', 'limit']);
  });
});
