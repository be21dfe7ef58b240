/*
 * What this library assumes of @nestjs/websockets (an optional peer: loaded only when installed).
 * Contract test: test/unit/compat-nest-websockets.spec.ts, which names the assumption and the
 * installed version when one breaks. Verified on @nestjs/websockets 12.1.1.
 *
 * W1 `WsProxy` (deep path `@nestjs/websockets/context/ws-proxy.js`) builds every
 *    `@SubscribeMessage()` handler through `create(target, exceptionsHandler, pattern)`, `target`
 *    being the pipeline of guards, pipes, interceptors and the method, `pattern` the message name;
 *    the function it returns is called with the client first, and the value `target` returns (a
 *    value, a Promise or an Observable) is what it passes on. Why: the outcome of each message with
 *    nothing of ours in the gateway. Fallback: not wrapped, logged once; messages are not counted
 *    (connections still are).
 * W2 A WebSocket adapter (`AbstractWsAdapter`: `IoAdapter`, `WsAdapter`) calls the callback of
 *    `bindClientConnect(server, callback)` with the client first, and `bindClientDisconnect(client,
 *    callback)` once when that client goes (public API). Fallback: an adapter without
 *    `bindClientDisconnect` counts connections up only.
 */
import { describeInstalled } from './installed-version';
import { loadOptionalPeer } from './optional-peers';

/** `@nestjs/websockets 12.1.1`, for messages. */
export const nestWebsocketsVersion = (): string => describeInstalled('@nestjs/websockets');

/** A gateway handler's pipeline, as `WsProxy#create` takes it and gives it back (W1). */
export type GatewayHandler = (this: unknown, ...args: unknown[]) => unknown;

interface WsProxyLike {
  create: (
    this: WsProxyLike,
    target: GatewayHandler,
    exceptionsHandler: unknown,
    pattern?: unknown,
  ) => unknown;
}

const PATCHED = Symbol.for('veza.metrics.wsProxyPatched');

/** `absent`: @nestjs/websockets is not installed; `changed`: it is, but W1 does not hold. */
export type WrapResult = 'wrapped' | 'absent' | 'changed';

/**
 * Hands each gateway handler's pipeline to `wrap` as Nest builds it (W1), once per process (the first
 * caller's `wrap` serves every application: it must find its application from the call).
 *
 * @param load how to load a module (`require`; replaced in tests).
 */
export function wrapGatewayHandlers(
  wrap: (target: GatewayHandler, event: string) => GatewayHandler,
  load: (id: string) => unknown = require,
): WrapResult {
  try {
    if (loadOptionalPeer('@nestjs/websockets', load) === undefined) return 'absent';
  } catch {
    return 'absent';
  }
  let proto: (WsProxyLike & { [PATCHED]?: true }) | undefined;
  try {
    proto = (load('@nestjs/websockets/context/ws-proxy.js') as { WsProxy?: { prototype: WsProxyLike } })
      .WsProxy?.prototype;
  } catch {
    return 'changed';
  }
  if (proto === undefined || typeof proto.create !== 'function') return 'changed';
  if (proto[PATCHED]) return 'wrapped';
  const original = proto.create;
  proto.create = function create(
    this: WsProxyLike,
    target: GatewayHandler,
    exceptionsHandler: unknown,
    pattern?: unknown,
  ): unknown {
    let handler = target;
    try {
      const event = typeof pattern === 'string' ? pattern : (JSON.stringify(pattern) ?? 'unknown');
      handler = wrap(target, event);
    } catch {
      // Observing is best effort: the gateway gets its own pipeline.
    }
    return original.call(this, handler, exceptionsHandler, pattern);
  };
  Object.defineProperty(proto, PATCHED, { value: true });
  return 'wrapped';
}
