/**
 * The client side of the HTTP e2e specs: request cases, a pool that sends them, and what the client
 * observed, keyed the way `veza_http_requests_total` is.
 */
import { parseExposition } from '../utils/exposition';

/** One kind of request, sent `times` times. */
export interface RequestCase {
  method: string;
  /** The URL path (and query); a function for a different one each time. */
  path: string | ((i: number) => string);
  /** The route template the library must record, or `null` when it must record nothing. */
  endpoint: string | null;
  times: number;
  body?: unknown;
  headers?: Record<string, string>;
  /** Abort the request this many ms after sending it (or after the first body chunk, with `abortAfterFirstChunk`). */
  abortAfterMs?: number;
  abortAfterFirstChunk?: boolean;
  /** For 500s and more: the `type` and `severity` of `veza_errors_total`. */
  error?: { type: string; severity: string };
  /** For 429s: the `limit_type` of `veza_rate_limit_hits_total`. */
  limitType?: string;
}

/** What the client saw: one entry per request. */
export interface Observation {
  method: string;
  endpoint: string | null;
  /** The status received, or 499 when the client aborted the request. */
  status: number;
  /** Milliseconds from sending the request to the client seeing its response end, or its own abort. */
  elapsedMs: number;
  error?: { type: string; severity: string };
  limitType?: string;
}

/** A deterministic pseudo-random generator (mulberry32), so a failing mix can be replayed. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Every request of `cases`, shuffled with `seed`. */
export function expand(cases: RequestCase[], seed: number): Array<{ spec: RequestCase; i: number }> {
  const all = cases.flatMap((spec) => Array.from({ length: spec.times }, (_, i) => ({ spec, i })));
  const next = random(seed);
  for (let i = all.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [all[i], all[j]] = [all[j], all[i]];
  }
  return all;
}

/** Sends one request and returns what the client observed. */
export async function send(base: string, spec: RequestCase, i: number): Promise<Observation> {
  const path = typeof spec.path === 'function' ? spec.path(i) : spec.path;
  const controller = new AbortController();
  const headers: Record<string, string> = { ...(spec.headers ?? {}) };
  let body: string | undefined;
  if (spec.body !== undefined) {
    body = JSON.stringify(spec.body);
    headers['content-type'] = 'application/json';
  }
  const timer =
    spec.abortAfterMs !== undefined && !spec.abortAfterFirstChunk
      ? setTimeout(() => controller.abort(), spec.abortAfterMs)
      : undefined;
  const sent = performance.now();
  const observed = (status: number): Observation => ({
    method: spec.method,
    endpoint: spec.endpoint,
    status,
    elapsedMs: performance.now() - sent,
    ...(spec.error && status >= 500 ? { error: spec.error } : {}),
    ...(spec.limitType && status === 429 ? { limitType: spec.limitType } : {}),
  });
  try {
    const res = await fetch(base + path, {
      method: spec.method,
      headers,
      body,
      redirect: 'manual',
      signal: controller.signal,
    });
    if (spec.abortAfterFirstChunk) {
      const reader = (res.body as ReadableStream<Uint8Array>).getReader();
      await reader.read();
      controller.abort();
      await reader.read().catch(() => undefined);
      return observed(499);
    }
    await res.arrayBuffer();
    return observed(res.status);
  } catch (error) {
    if ((error as Error).name === 'AbortError') return observed(499);
    throw error;
  } finally {
    clearTimeout(timer);
  }
}

/** Sends every request with at most `concurrency` in flight. */
export async function sendAll(
  base: string,
  requests: Array<{ spec: RequestCase; i: number }>,
  concurrency: number,
): Promise<Observation[]> {
  const out: Observation[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < requests.length) {
      const { spec, i } = requests[next++];
      out.push(await send(base, spec, i));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

/** Counts of `items` by `key` (skipping `undefined` keys). */
export function tally<T>(items: T[], key: (item: T) => string | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) out[k] = (out[k] ?? 0) + 1;
  }
  return out;
}

/** The samples of metric `name` (exact sample name) as `label values joined by spaces` → value. */
export function samples(exposition: string, name: string, labels: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const family of parseExposition(exposition).values()) {
    for (const s of family.samples) {
      if (s.name !== name) continue;
      const key = labels.map((l) => s.labels[l] ?? '').join(' ');
      out[key] = (out[key] ?? 0) + s.value;
    }
  }
  return out;
}
