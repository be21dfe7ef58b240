/*
 * What the RPC recorder assumes of @nestjs/microservices and @nestjs/core (contract test:
 * test/unit/compat-nest-microservices.spec.ts, which names the installed version when one
 * breaks). Tested on @nestjs/microservices 12.1.1.
 *
 * R1 `ModulesContainer#getRpcTargetRegistry()` is an Observable that replays every server
 *    (`Server` subclass or custom strategy) a `NestMicroservice` of this container was created with,
 *    standalone and hybrid (`app.connectMicroservice()`), before its listeners are registered.
 *    Fallback: no server is seen, nothing is recorded, the application runs as without the library.
 * R2 A server registers each handler with `addHandler(pattern, callback, isEventHandler, extras)`
 *    and keeps the head handler of each normalised pattern in the Map `messageHandlers`, which every
 *    transport reads when a message arrives (gRPC: when it binds its services at `listen()`). The
 *    head carries `isEventHandler`, `extras` and `next` (further event handlers of one pattern).
 *    Fallback: a server without that Map is left untouched (nothing recorded).
 * R3 A handler returns (a Promise of) a value or an Observable; an error of the handler comes back
 *    as an Observable that errors (the exception filters' result) or as a rejection.
 * R4 `RpcExceptionsHandler#handle(exception, host)` receives each exception of an RPC handler
 *    before the filters, `host.getArgByIndex(1)` being the message's context object.
 *    Fallback: `veza_errors_total{type}` names the class of the error the handler's result carried.
 * R5 `transportId` is a member of `Transport` (TCP 0 ... KAFKA 6) for the built-in servers; a custom
 *    strategy may set a Symbol or nothing. Fallback: the server's class name.
 */

/** The part of a Nest microservice server the recorder uses. */
export interface RpcServerLike {
  transportId?: unknown;
  messageHandlers?: Map<string, RpcHandler>;
  addHandler?: (pattern: unknown, callback: RpcHandler, isEventHandler?: boolean, extras?: unknown) => void;
  normalizePattern?: (pattern: unknown) => string;
}

/** A handler as a server keeps it. */
export type RpcHandler = ((...args: unknown[]) => unknown) & {
  isEventHandler?: boolean;
  extras?: unknown;
  next?: RpcHandler;
};

interface ModulesContainerLike {
  getRpcTargetRegistry?: () => { subscribe(next: (server: unknown) => void): { unsubscribe(): void } };
}

/** Calls `onServer` for every microservice server of this application, past and future; returns what stops it. */
export function watchRpcServers(
  modules: unknown,
  onServer: (server: RpcServerLike) => void,
): (() => void) | undefined {
  const registry = (modules as ModulesContainerLike | undefined)?.getRpcTargetRegistry;
  if (typeof registry !== 'function') return undefined;
  const subscription = registry.call(modules).subscribe((server) => {
    if (typeof server === 'object' && server !== null) onServer(server);
  });
  return () => subscription.unsubscribe();
}

const BUILT_IN = ['tcp', 'redis', 'nats', 'mqtt', 'grpc', 'rmq', 'kafka'];
const BUILT_IN_CLASSES: Record<string, string> = {
  ServerTCP: 'tcp',
  ServerRedis: 'redis',
  ServerNats: 'nats',
  ServerMqtt: 'mqtt',
  ServerGrpc: 'grpc',
  ServerRMQ: 'rmq',
  ServerKafka: 'kafka',
};

/** The `transport` label of a server: the built-in transport's name, else the strategy's Symbol description or class name. */
export function transportName(server: RpcServerLike): string {
  const id = server.transportId;
  if (typeof id === 'number' && BUILT_IN[id] !== undefined) return BUILT_IN[id];
  const className = (server as { constructor?: { name?: unknown } }).constructor?.name;
  if (typeof className === 'string' && BUILT_IN_CLASSES[className] !== undefined)
    return BUILT_IN_CLASSES[className];
  if (typeof id === 'symbol' && id.description) return id.description;
  if (typeof id === 'string' && id !== '') return id;
  return typeof className === 'string' && className !== '' ? className : 'custom';
}

const WRAPPED = Symbol('veza.metrics.rpcHandler');

/**
 * Replaces each head handler of `server` (those registered already and those to come) with
 * `wrap(head, key)`, whose `isEventHandler`, `extras` and `next` read and write the head's, so that
 * the server's own chaining of event handlers and its dispatch see what they saw before.
 * Returns false when the server does not have the layout of R2.
 */
export function instrumentServer(
  server: RpcServerLike,
  wrap: (head: RpcHandler, key: string) => RpcHandler,
): boolean {
  const handlers = server.messageHandlers;
  const addHandler = server.addHandler;
  if (!(handlers instanceof Map) || typeof addHandler !== 'function') return false;
  const replace = (key: string): void => {
    const head = handlers.get(key);
    if (typeof head !== 'function' || (head as { [WRAPPED]?: true })[WRAPPED]) return;
    const wrapper = wrap(head, key);
    for (const prop of ['isEventHandler', 'extras', 'next'] as const) {
      Object.defineProperty(wrapper, prop, {
        get: () => head[prop],
        set: (value: never) => {
          head[prop] = value;
        },
        configurable: true,
      });
    }
    Object.defineProperty(wrapper, WRAPPED, { value: true });
    handlers.set(key, wrapper);
  };
  for (const key of [...handlers.keys()]) replace(key);
  server.addHandler = function (this: RpcServerLike, pattern, callback, isEventHandler, extras) {
    const before = new Set(handlers.keys());
    const result = addHandler.call(this, pattern, callback, isEventHandler, extras);
    try {
      for (const key of handlers.keys()) if (!before.has(key)) replace(key);
    } catch {
      // Recording is best effort: the handler is registered as without the library.
    }
    return result;
  };
  return true;
}

/** The `pattern` label: the declared pattern as the server keys it; gRPC's `Service/Method`. */
export function patternLabel(key: string, transport: string): string {
  if (transport !== 'grpc' || !key.startsWith('{')) return key;
  try {
    const parsed = JSON.parse(key) as { service?: unknown; rpc?: unknown };
    if (typeof parsed.service === 'string' && typeof parsed.rpc === 'string')
      return `${parsed.service}/${parsed.rpc}`;
  } catch {
    // Not the gRPC layout: the key as it is.
  }
  return key;
}

const noted = new WeakMap<object, unknown>();
let exceptionsHooked: boolean | undefined;

/**
 * Notes each exception `RpcExceptionsHandler` receives against the message's context (R4), once
 * per process; the handler runs exactly as before. False when the class cannot be reached.
 */
export function captureRpcExceptions(): boolean {
  if (exceptionsHooked !== undefined) return exceptionsHooked;
  exceptionsHooked = false;
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require('@nestjs/microservices/exceptions/rpc-exceptions-handler.js') as {
      RpcExceptionsHandler?: { prototype: { handle?: (...args: unknown[]) => unknown } };
    };
    const proto = mod.RpcExceptionsHandler?.prototype;
    const original = proto?.handle;
    if (!proto || typeof original !== 'function') return false;
    proto.handle = function (this: unknown, ...args: unknown[]): unknown {
      try {
        const host = args[1] as { getArgByIndex?: (i: number) => unknown } | undefined;
        const ctx = host?.getArgByIndex?.(1);
        if (typeof ctx === 'object' && ctx !== null) noted.set(ctx, args[0]);
      } catch {
        // Noting is best effort; handling the exception is not ours to disturb.
      }
      return original.apply(this, args);
    };
    exceptionsHooked = true;
  } catch {
    exceptionsHooked = false;
  }
  return exceptionsHooked;
}

/** The exception Nest's RPC exception handler received for a message whose arguments are `args`. */
export function rpcException(args: readonly unknown[]): unknown {
  for (let i = 1; i < args.length && i < 3; i++) {
    const arg = args[i];
    if (typeof arg === 'object' && arg !== null && noted.has(arg)) return noted.get(arg);
  }
  return undefined;
}
