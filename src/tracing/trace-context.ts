import { contextManagerCheck, OTEL_API } from '../compat/opentelemetry-api';

/** The ids of the active OpenTelemetry span, as exemplar labels. */
export interface TraceExemplar {
  readonly trace_id: string;
  readonly span_id: string;
}

/** Reads the active span's ids; `undefined` when there is no valid active span. */
export type TraceReader = () => TraceExemplar | undefined;

interface OtelApi {
  trace: {
    getActiveSpan(): { spanContext(): { traceId: string; spanId: string; traceFlags: number } } | undefined;
  };
  isSpanContextValid(context: { traceId: string; spanId: string; traceFlags: number }): boolean;
}

/**
 * A reader of the active span, when `@opentelemetry/api` (an optional peer) is installed; `undefined`
 * otherwise. The API is a no-op until the app registers an OpenTelemetry SDK: until a context
 * manager is registered there can be no active span, and the reader returns `undefined` after one
 * property read (O1, O2 of src/compat/opentelemetry-api.ts), without calling into the API (which
 * every request would otherwise pay for). When the API's version cannot be read, every read calls
 * into the API (O3's fallback).
 *
 * @param load - loads a module by name (`require`); replaced in tests.
 * @param resolve - the file a module name resolves to (`require.resolve`); replaced in tests.
 */
export function loadTraceReader(
  load: (id: string) => unknown = require,
  resolve: (id: string) => string = require.resolve,
): TraceReader | undefined {
  let api: OtelApi;
  try {
    api = load(OTEL_API) as OtelApi;
  } catch {
    return undefined;
  }
  if (typeof api?.trace?.getActiveSpan !== 'function' || typeof api.isSpanContextValid !== 'function')
    return undefined;
  // O1, O2 of src/compat/opentelemetry-api.ts; `undefined` when the version cannot be read (O3).
  const registered = contextManagerCheck(resolve);
  return () => {
    if (registered !== undefined && !registered()) return undefined;
    const span = api.trace.getActiveSpan();
    if (!span) return undefined;
    const context = span.spanContext();
    return api.isSpanContextValid(context)
      ? { trace_id: context.traceId, span_id: context.spanId }
      : undefined;
  };
}

/** Where the HTTP hooks keep the trace ids read when a request arrived (on Node's request object). */
export const TRACE_EXEMPLAR = Symbol('vezaMetricsTraceExemplar');

/** Notes the active span's ids on `target`, if there is one: nothing is allocated otherwise. */
export function noteTrace(reader: TraceReader | undefined, target: object): void {
  if (reader === undefined) return;
  const ids = reader();
  if (ids !== undefined) (target as { [TRACE_EXEMPLAR]?: TraceExemplar })[TRACE_EXEMPLAR] = ids;
}

/** The trace ids noted on `target`, if any. */
export function notedTrace(target: object): TraceExemplar | undefined {
  return (target as { [TRACE_EXEMPLAR]?: TraceExemplar })[TRACE_EXEMPLAR];
}
