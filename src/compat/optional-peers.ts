/*
 * How the library loads its optional peers: only for an application that uses them. One loader serves every feature (`loadOptionalPeer`), and a feature asks it only once the
 * application's own container shows that it uses the peer (`appUsesPeer`). The container is read
 * through N2 of nest-core.ts; what shows a peer's use is a string the peer's own module or
 * decorators put there, read without loading the peer. A process where these peers are installed
 * but unused (a monorepo's HTTP service, a worker, a microservice) loads none of them.
 *
 * Contract test: test/unit/peer-marks-contract.spec.ts builds real applications with each peer and
 * fails naming the mark and the installed version when one is no longer there (not named compat-*,
 * so that the Nest 10 and 11 matrix, whose fixtures have none of these peers, does not run it).
 * Verified on @nestjs/graphql 14.0.3, @nestjs/bullmq 12.0.0, @nestjs/websockets 12.1.1.
 *
 * P1 `GraphQLModule.forRoot()` and `forRootAsync()` of @nestjs/graphql register a provider under the
 *    string token `'GqlModuleOptions'` (its `GRAPHQL_MODULE_OPTIONS`), in the module that also
 *    provides the `GraphQLSchemaHost` the GraphQL recorder reads. Fallback: an application without
 *    it is taken for one without GraphQL: `@nestjs/graphql` is not loaded and nothing is recorded.
 * P2 A `@Processor()` class of @nestjs/bullmq carries the metadata key `'bullmq:processor_metadata'`
 *    (its `PROCESSOR_METADATA`), and `BullModule.registerQueue()` / `registerQueueAsync()` register
 *    each queue's options under a string token `'BullMQQueueOptions_<name>'` (`getQueueOptionsToken`).
 *    Fallback: an application with neither is taken for one without queues: `@nestjs/bullmq` and
 *    `bullmq` are not loaded, no job and no depth is recorded.
 * P3 A `@WebSocketGateway()` class of @nestjs/websockets carries the metadata key
 *    `'websockets:is_gateway'` (its `GATEWAY_METADATA`, the very key Nest's `SocketModule` looks for
 *    on every provider to connect gateways). Fallback: an application with no such provider is taken
 *    for one without gateways: `@nestjs/websockets` is not loaded by the library and nothing is hooked.
 * P4 `TerminusModule` of @nestjs/terminus (static, `forRoot()`, `forRootAsync()`; 10.x to 12.x)
 *    registers a provider under the string token `'TERMINUS_ERROR_LOGGER'` (its `ERROR_LOGGER`),
 *    in the module that provides `HealthCheckService`. Fallback: an application without it is taken
 *    for one without terminus: `@nestjs/terminus` is not loaded and no health check is recorded.
 *
 * Lazily loaded modules (`LazyModuleLoader`) are not looked at: Nest neither connects their gateways
 * nor runs their lifecycle hooks (no GraphQL driver starts, no `@Processor()` gets a Worker), so an
 * application shows its use of these peers in the modules it bootstraps with.
 */
import type { ModulesContainer } from '@nestjs/core';
import { classOf, tokensOf } from './nest-core';

/**
 * `require(name)` of an optional peer, or `undefined` when it is not installed (only that: a broken
 * install of it still throws). The one loader of optional packages: the GraphQL, queue and WebSocket
 * recorders and the Prometheus clients' seams.
 *
 * @param load - how to load a module (`require`; replaced in tests).
 */
export function loadOptionalPeer(name: string, load: (id: string) => unknown = require): unknown {
  try {
    return load(name);
  } catch (error) {
    const e = error as { code?: unknown; message?: unknown };
    if (e?.code === 'MODULE_NOT_FOUND' && typeof e.message === 'string' && e.message.includes(`'${name}'`))
      return undefined;
    throw error;
  }
}

/** What shows, in an application's container, that it uses a peer (P1-P3). */
interface PeerMarks {
  /** String provider tokens the peer's modules register; a trailing `*` matches a prefix. */
  readonly tokens: readonly string[];
  /** Metadata keys the peer's decorators put on a provider's class. */
  readonly classMetadata: readonly string[];
}

/** The optional peers a feature of the library loads only for an application that uses them. */
export type OptionalPeerFeature = 'graphql' | 'bullmq' | 'websockets' | 'terminus';

const MARKS: Readonly<Record<OptionalPeerFeature, PeerMarks>> = {
  graphql: { tokens: ['GqlModuleOptions'], classMetadata: [] }, // P1
  bullmq: { tokens: ['BullMQQueueOptions_*'], classMetadata: ['bullmq:processor_metadata'] }, // P2
  websockets: { tokens: [], classMetadata: ['websockets:is_gateway'] }, // P3
  terminus: { tokens: ['TERMINUS_ERROR_LOGGER'], classMetadata: [] }, // P4
};

function tokenMatches(token: unknown, marks: readonly string[]): boolean {
  if (typeof token !== 'string') return false;
  return marks.some((m) => (m.endsWith('*') ? token.startsWith(m.slice(0, -1)) : token === m));
}

/**
 * Whether this application's container shows that it uses `feature`'s peer (P1-P3), read without
 * loading the peer: a provider registered under one of the peer's string tokens, or a provider
 * whose class carries one of its decorators' metadata keys. `modules` missing (not a Nest
 * container): false.
 */
export function appUsesPeer(modules: ModulesContainer | undefined, feature: OptionalPeerFeature): boolean {
  if (!modules || typeof modules.values !== 'function') return false;
  const { tokens, classMetadata } = MARKS[feature];
  const reflect = Reflect as unknown as { getMetadataKeys?: (target: object) => unknown[] };
  for (const module of modules.values()) {
    for (const [token, wrapper] of tokensOf(module)) {
      if (tokenMatches(token, tokens)) return true;
      if (classMetadata.length === 0) continue;
      const type = classOf(wrapper);
      if (type === undefined) continue;
      const keys = reflect.getMetadataKeys?.(type) ?? [];
      if (keys.some((k) => typeof k === 'string' && classMetadata.includes(k))) return true;
    }
  }
  return false;
}
