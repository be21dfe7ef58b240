import { isObservable, tap } from 'rxjs';

/**
 * Where a gateway client keeps the recorder of its application (set when it connects), so that the
 * one patch below, shared by every application of the process, reports to the right one.
 */
export const WS_MESSAGE_SINK = Symbol.for('veza.metrics.wsMessageSink');

/** Receives the outcome of each message a `@SubscribeMessage()` handler took. */
export interface WsMessageSink {
  message(event: string, ok: boolean): void;
}

type Target = (this: unknown, ...args: unknown[]) => unknown;
interface WsProxyLike {
  create: (this: WsProxyLike, target: Target, exceptionsHandler: unknown, pattern?: unknown) => unknown;
}

const PATCHED = Symbol.for('veza.metrics.wsProxyPatched');

/**
 * Wraps `WsProxy#create` of `@nestjs/websockets`, once per process, when that optional peer is
 * installed (it is never required when it is not). Nest builds every `@SubscribeMessage()` handler
 * through it, from the pipeline of guards, pipes, interceptors and the method. The wrapper runs that
 * pipeline as before and notes how it ended, per message: `success` when it returns (an Observable
 * when it completes), `error` when it throws, rejects or errors, with the same error passed on to the
 * gateway's exception filters. Clients of applications without the module are passed through.
 *
 * @param load how to load a module (`require`; replaced in tests).
 * @returns false when `@nestjs/websockets` is not installed.
 */
export function observeGatewayMessages(load: (id: string) => unknown = require): boolean {
  let proto: WsProxyLike & { [PATCHED]?: true };
  try {
    proto = (load('@nestjs/websockets/context/ws-proxy.js') as { WsProxy: { prototype: WsProxyLike } })
      .WsProxy.prototype;
  } catch {
    return false;
  }
  if (proto[PATCHED]) return true;
  const original = proto.create;
  proto.create = function create(
    this: WsProxyLike,
    target: Target,
    exceptionsHandler: unknown,
    pattern?: unknown,
  ): unknown {
    const event = typeof pattern === 'string' ? pattern : (JSON.stringify(pattern) ?? 'unknown');
    const observed: Target = function (this: unknown, ...args: unknown[]): unknown {
      const sink = (args[0] as { [WS_MESSAGE_SINK]?: WsMessageSink } | null | undefined)?.[WS_MESSAGE_SINK];
      if (sink === undefined) return target.apply(this, args);
      let result: unknown;
      try {
        result = target.apply(this, args);
      } catch (error) {
        sink.message(event, false);
        throw error;
      }
      return settle(result, event, sink);
    };
    return original.call(this, observed, exceptionsHandler, pattern);
  };
  Object.defineProperty(proto, PATCHED, { value: true });
  return true;
}

function settle(result: unknown, event: string, sink: WsMessageSink): unknown {
  const done = (value: unknown): unknown => {
    if (!isObservable(value)) {
      sink.message(event, true);
      return value;
    }
    return value.pipe(
      tap({ complete: () => sink.message(event, true), error: () => sink.message(event, false) }),
    );
  };
  if (typeof (result as PromiseLike<unknown> | undefined)?.then === 'function') {
    return (result as PromiseLike<unknown>).then(done, (error: unknown) => {
      sink.message(event, false);
      throw error;
    });
  }
  return done(result);
}
