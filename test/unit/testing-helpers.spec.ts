import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { Summary, type Registry } from 'prom-client';
import * as ts from 'typescript';
import { VezaMetric } from '../../src';
import { getMetricValue, setupMetricsMatchers, toHaveMetricValue } from '../../src/testing';
import { metricsContext, type MetricsContext } from '../utils/module';

const ROOT = path.resolve(__dirname, '../..');

describe('getMetricValue on summaries and with selectors', () => {
  let ctx: MetricsContext;

  beforeAll(async () => {
    ctx = await metricsContext({ defaultMetrics: false });
    const latency = new Summary({
      name: 'app_job_seconds',
      help: 'Job latency',
      labelNames: ['job'],
      percentiles: [0.5, 0.9],
      registers: [ctx.registry.registry as Registry],
    });
    for (const v of [1, 2, 3, 4, 5]) latency.observe({ job: 'import' }, v);
    ctx.service.recordFileUpload('audio', 'success', 2_000);
  });

  afterAll(() => ctx.close());

  it('reads a summary: count by default, sum, a quantile', async () => {
    expect(await getMetricValue(ctx.moduleRef, 'app_job_seconds', { job: 'import' })).toBe(5);
    expect(await getMetricValue(ctx.moduleRef, 'app_job_seconds', { job: 'import' }, { stat: 'sum' })).toBe(
      15,
    );
    expect(await getMetricValue(ctx.moduleRef, 'app_job_seconds', { job: 'import' }, { quantile: 0.5 })).toBe(
      3,
    );
  });

  it.each([
    [
      'le on a summary',
      'app_job_seconds',
      { le: 1 },
      'getMetricValue: "app_job_seconds" is a summary; "le" (a bucket) applies to histograms only.',
    ],
    [
      'a quantile a summary does not compute',
      'app_job_seconds',
      { quantile: 0.99 },
      'getMetricValue: "app_job_seconds" is a summary; it has no quantile 0.99 (quantiles: 0.5, 0.9).',
    ],
    [
      'quantile on a histogram',
      VezaMetric.FileUploadSize,
      { quantile: 0.5 },
      'getMetricValue: "veza_file_upload_size_bytes" is a histogram; "quantile" applies to summaries only.',
    ],
    [
      'two selectors',
      VezaMetric.FileUploadSize,
      { stat: 'sum', le: 2048 },
      'getMetricValue: "veza_file_upload_size_bytes" is a histogram; give one of stat, le or quantile, not stat and le.',
    ],
    [
      'an unknown stat',
      VezaMetric.FileUploadSize,
      { stat: 'avg' },
      'getMetricValue: "veza_file_upload_size_bytes" is a histogram; stat must be "count" or "sum", not "avg".',
    ],
    [
      'a selector on a gauge',
      VezaMetric.ActiveUsers,
      { le: 1 },
      'getMetricValue: "veza_active_users" is a gauge; options { le } apply to histograms and summaries only.',
    ],
  ])('fails on %s', async (_what, name, options, message) => {
    await expect(getMetricValue(ctx.moduleRef, name, {}, options as never)).rejects.toThrow(message);
  });

  it('the matcher treats a missing gauge series as no number at all', async () => {
    const result = await toHaveMetricValue.call(
      undefined,
      ctx.moduleRef,
      VezaMetric.HealthCheckStatus,
      { service: 'db' },
      0,
    );
    expect(result.pass).toBe(false);
    expect(result.message()).toBe('expected veza_health_check_status{service="db"} to be 0, got no series');
  });

  it('setupMetricsMatchers registers on the expect it is given, and fails clearly without one', () => {
    const registered: string[] = [];
    setupMetricsMatchers({ extend: (matchers) => registered.push(...Object.keys(matchers)) });
    expect(registered).toEqual(['toHaveMetricValue']);
    const saved = expect;
    const check = expect;
    try {
      (globalThis as { expect?: unknown }).expect = undefined;
      check(() => setupMetricsMatchers()).toThrow(
        'setupMetricsMatchers: no global expect() was found; pass it explicitly: setupMetricsMatchers(expect).',
      );
    } finally {
      (globalThis as { expect?: unknown }).expect = saved;
    }
  });
});

describe('the testing entry point (src/testing/index.ts)', () => {
  it('documents every export with TSDoc', () => {
    const entry = path.join(ROOT, 'src/testing/index.ts');
    const program = ts.createProgram([entry], {
      module: ts.ModuleKind.Node16,
      moduleResolution: ts.ModuleResolutionKind.Node16,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      skipLibCheck: true,
      noEmit: true,
    });
    const checker = program.getTypeChecker();
    const source = program.getSourceFile(entry) as ts.SourceFile;
    expect(source.text).not.toMatch(/export \*/);
    const exported = checker.getExportsOfModule(checker.getSymbolAtLocation(source) as ts.Symbol);
    expect(exported.map((s) => s.getName()).sort()).toEqual(
      [
        'ExpectWithExtend',
        'MetricLabels',
        'MetricValueOptions',
        'MetricsHost',
        'MetricsMatcherResult',
        'VezaMetricLabels',
        'getMetricValue',
        'resetMetrics',
        'setupMetricsMatchers',
        'toHaveMetricValue',
      ].sort(),
    );
    const undocumented = exported
      .map((symbol) => checker.getAliasedSymbol(symbol))
      .filter((target) => target.getDocumentationComment(checker).length === 0)
      .map((target) => target.getName());
    expect(undocumented).toEqual([]);
  });

  it('loads nothing of jest, and the main entry does not load it', () => {
    const dir = path.join(ROOT, 'src/testing');
    for (const file of readdirSync(dir)) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      expect(text).not.toMatch(/from '(jest|@jest\/[^']+|expect)'/);
      expect(text).not.toMatch(/require\(/);
    }
    expect(readFileSync(path.join(ROOT, 'src/index.ts'), 'utf8')).not.toMatch(/testing/);
  });

  it('is exported as @veza/nestjs-metrics/testing, built to dist/testing', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, unknown>;
      files: string[];
      typesVersions: Record<string, Record<string, string[]>>;
    };
    expect(pkg.exports['./testing']).toEqual({
      types: './dist/testing/index.d.ts',
      default: './dist/testing/index.js',
    });
    expect(pkg.typesVersions['*'].testing).toEqual(['dist/testing/index.d.ts']);
    expect(pkg.files).toContain('dist');
  });
});
