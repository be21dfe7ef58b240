import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { loadTraceReader } from '../../src/tracing/trace-context';

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

/** A fake `@opentelemetry/api` package of `version` on disk: the path its entry point resolves to. */
function fakePackage(version: string): { entry: string; remove: () => void } {
  const root = mkdtempSync(join(tmpdir(), 'veza-otel-'));
  mkdirSync(join(root, 'build', 'src'), { recursive: true });
  writeFileSync(join(root, 'package.json'), JSON.stringify({ name: '@opentelemetry/api', version }));
  // Like the real package's ESM build: a nested package.json without a name, to be walked past.
  writeFileSync(join(root, 'build', 'package.json'), JSON.stringify({ type: 'commonjs' }));
  return {
    entry: join(root, 'build', 'src', 'index.js'),
    remove: () => rmSync(root, { recursive: true, force: true }),
  };
}

describe('loadTraceReader', () => {
  // The API's registrations object exists from the first registration on (O4); a reader made
  // before it exists looks for it only now and then (test/unit/compat-opentelemetry-api.spec.ts).
  beforeAll(() => {
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    context.disable();
  });
  afterEach(() => {
    context.disable();
    jest.restoreAllMocks();
  });

  it('is undefined when @opentelemetry/api is not installed', () => {
    const missing = (id: string): never => {
      throw Object.assign(new Error(`Cannot find module '${id}'`), { code: 'MODULE_NOT_FOUND' });
    };
    expect(loadTraceReader(missing)).toBeUndefined();
  });

  it('reads the active span once a context manager is registered, with the real API', () => {
    const read = loadTraceReader();
    expect(read).toBeDefined();
    const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    // No context manager: `context.with` runs the callback in the root context, so no span is active.
    expect(context.with(trace.setSpan(ROOT_CONTEXT, span), () => read!())).toBeUndefined();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    expect(context.with(trace.setSpan(ROOT_CONTEXT, span), () => read!())).toEqual({
      trace_id: TRACE_ID,
      span_id: SPAN_ID,
    });
    expect(read!()).toBeUndefined();
  });

  it('does not call into the real API while no context manager is registered', () => {
    const getActiveSpan = jest.spyOn(trace, 'getActiveSpan');
    const read = loadTraceReader()!;
    expect(read()).toBeUndefined();
    expect(read()).toBeUndefined();
    expect(getActiveSpan).toHaveBeenCalledTimes(0);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    expect(read()).toBeUndefined();
    expect(getActiveSpan).toHaveBeenCalledTimes(1);
  });

  it('finds the version of an API that does not export it in its package.json, and calls the API only once a context manager is registered', () => {
    const key = Symbol.for('opentelemetry.js.api.7');
    const registered = globalThis as unknown as Record<symbol, { context?: unknown } | undefined>;
    let calls = 0;
    const api = {
      trace: {
        getActiveSpan: () => {
          calls++;
          return { spanContext: () => ({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 }) };
        },
      },
      isSpanContextValid: () => true,
    };
    const installed = fakePackage('7.3.0');
    registered[key] = { version: '7.3.0' } as { context?: unknown };
    const read = loadTraceReader(
      () => api,
      () => installed.entry,
    )!;
    try {
      expect(read()).toBeUndefined();
      expect(calls).toBe(0);
      // As the API registers: into the object that exists (O4).
      registered[key].context = {};
      expect(read()).toEqual({ trace_id: TRACE_ID, span_id: SPAN_ID });
      expect(calls).toBe(1);
    } finally {
      delete registered[key];
      installed.remove();
    }
  });

  it('calls into the API on every read when it cannot tell its version', () => {
    let calls = 0;
    const api = {
      trace: {
        getActiveSpan: () => {
          calls++;
          return undefined;
        },
      },
      isSpanContextValid: () => true,
    };
    const unresolved = (id: string): never => {
      throw new Error(`Cannot resolve '${id}'`);
    };
    const read = loadTraceReader(() => api, unresolved)!;
    expect(read()).toBeUndefined();
    expect(read()).toBeUndefined();
    expect(calls).toBe(2);
  });
});
