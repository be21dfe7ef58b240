/**
 * The client side of the HTTP e2e specs: request cases, a pool that sends them, and what the client
 * observed, keyed the way `veza_http_requests_total` is.
 */
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { parseExposition } from '../utils/exposition';

/**
 * Requests a handler holds (`GET /files/wait/:ms?hold=KEY`): the handler tells the client it was
 * entered, the client aborts, and the handler answers once its connection closed and the test
 * released it. Every step waits on an event, so at any machine load the abort comes after the server
 * got the request and before its answer (timers raced there: an abort 250 ms after sending, a handler
 * answering after 2 s).
 */
export class HeldRequests {
  private readonly entered = new EventEmitter();
  private readonly running = new Set<Promise<unknown>>();
  private released: () => void = () => undefined;
  private gate = this.closedGate();
  private keys = 0;

  private closedGate(): Promise<void> {
    return new Promise<void>((resolve) => (this.released = resolve));
  }

  /** Client side: a key for one request, and `onEntered` called once its handler is entered. */
  register(onEntered: () => void): { key: string; dispose(): void } {
    const key = `h${++this.keys}`;
    this.entered.once(key, onEntered);
    return { key, dispose: () => this.entered.removeAllListeners(key) };
  }

  /** Server side: answers `answer` once the request's connection closed and {@link release} was called. */
  hold<T>(key: string, socket: Socket | null | undefined, answer: T): Promise<T> {
    const closed = new Promise<void>((resolve) =>
      !socket || socket.destroyed ? resolve() : socket.once('close', () => resolve()),
    );
    const gate = this.gate;
    this.entered.emit(key);
    const done = closed.then(() => gate).then(() => answer);
    this.running.add(done);
    return done;
  }

  /** Handlers held now. */
  get size(): number {
    return this.running.size;
  }

  /** Lets every held handler answer, and resolves once they all did. */
  async release(): Promise<void> {
    this.released();
    this.gate = this.closedGate();
    await Promise.all(this.running);
    this.running.clear();
  }
}

export const heldRequests = new HeldRequests();

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
  /** Abort the request once the server entered its handler, which holds it ({@link heldRequests}). */
  abortWhenHeld?: boolean;
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
  const controller = new AbortController();
  const held = spec.abortWhenHeld ? heldRequests.register(() => controller.abort()) : undefined;
  let path = typeof spec.path === 'function' ? spec.path(i) : spec.path;
  if (held) path += `${path.includes('?') ? '&' : '?'}hold=${held.key}`;
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
    held?.dispose();
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
