/**
 * Contract tests of src/compat/opentelemetry-api.ts: each assumption it makes of
 * `@opentelemetry/api`, by its name, against the installed API with the installed
 * `@opentelemetry/context-async-hooks` as the context manager. A failure here names the assumption
 * that broke and the versions.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  contextManagerCheck,
  otelApiVersion,
  REGISTRATIONS_RECHECK_CALLS,
  registrationsKey,
} from '../../src/compat/opentelemetry-api';

/** The installed API's version, read from its package.json (build/src/index.js is its entry point). */
const version = (
  JSON.parse(
    readFileSync(join(dirname(require.resolve('@opentelemetry/api')), '..', '..', 'package.json'), 'utf8'),
  ) as { version: string }
).version;
const managerVersion = (
  JSON.parse(readFileSync(require.resolve('@opentelemetry/context-async-hooks/package.json'), 'utf8')) as {
    version: string;
  }
).version;
const against = `@opentelemetry/api ${version}, @opentelemetry/context-async-hooks ${managerVersion}`;

const TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const SPAN_ID = 'b7ad6b7169203331';

describe(`@opentelemetry/api assumptions (${against})`, () => {
  afterEach(() => context.disable());

  it(`O3: the version is read from the package.json its exports hide (${against})`, () => {
    expect(otelApiVersion()).toBe(version);
    expect(registrationsKey(otelApiVersion())).toBe(
      Symbol.for(`opentelemetry.js.api.${version.split('.')[0]}`),
    );
  });

  it(`O1: the registrations of the major live under globalThis[Symbol.for('opentelemetry.js.api.<major>')], whose "context" setGlobalContextManager() sets and disable() clears (${against})`, () => {
    const key = registrationsKey(version) as symbol;
    const registered = globalThis as unknown as Record<symbol, { context?: unknown } | undefined>;
    expect(registered[key]?.context).toBeUndefined();
    // Made once the registrations object exists (a check made before it looks for it now and then: see below).
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    context.disable();
    const check = contextManagerCheck();
    expect(check).toBeDefined();
    expect(check!()).toBe(false);
    const manager = new AsyncLocalStorageContextManager().enable();
    expect(context.setGlobalContextManager(manager)).toBe(true);
    expect(registered[key]?.context).toBe(manager);
    expect(check!()).toBe(true);
    context.disable();
    expect(registered[key]?.context).toBeUndefined();
    expect(check!()).toBe(false);
  });

  it(`O4: the registrations object, once created, stays the same object across registrations and disable() (${against})`, () => {
    const key = registrationsKey(version) as symbol;
    const registered = globalThis as unknown as Record<symbol, object | undefined>;
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    const first = registered[key];
    expect(first).toBeDefined();
    context.disable();
    expect(registered[key]).toBe(first);
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    expect(registered[key]).toBe(first);
  });

  it(`the check, made before any registration, sees a context manager registered later within ${REGISTRATIONS_RECHECK_CALLS} calls, then at once (${against})`, () => {
    const key = registrationsKey(version) as symbol;
    const registered = globalThis as unknown as Record<symbol, object | undefined>;
    const existing = registered[key];
    // A process where nothing registered yet (the registrations object does not exist).
    delete registered[key];
    try {
      const check = contextManagerCheck()!;
      for (let i = 0; i < 10; i++) expect(check()).toBe(false);
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      expect(registered[key]).toBeDefined();
      let calls = 1;
      while (!check()) calls++;
      expect(calls).toBe(REGISTRATIONS_RECHECK_CALLS - 10);
      context.disable();
      expect(check()).toBe(false);
      context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
      expect(check()).toBe(true);
    } finally {
      context.disable();
      if (existing !== undefined) registered[key] = existing;
    }
  });

  it(`O2: without a registered context manager no span is active, even inside context.with(trace.setSpan(...)) (${against})`, () => {
    const span = trace.wrapSpanContext({ traceId: TRACE_ID, spanId: SPAN_ID, traceFlags: 1 });
    expect(context.with(trace.setSpan(ROOT_CONTEXT, span), () => trace.getActiveSpan())).toBeUndefined();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    expect(
      context.with(trace.setSpan(ROOT_CONTEXT, span), () => trace.getActiveSpan()?.spanContext().spanId),
    ).toBe(SPAN_ID);
  });

  it(`fallback: a version it cannot read gives no check, so that every read asks the API (${against})`, () => {
    const unresolved = (id: string): never => {
      throw new Error(`Cannot resolve '${id}'`);
    };
    expect(contextManagerCheck(unresolved)).toBeUndefined();
    expect(registrationsKey('x.y')).toBeUndefined();
    expect(registrationsKey(undefined)).toBeUndefined();
  });
});
