/**
 * Contract tests of src/compat/optional-peers.ts: each mark (P1-P3) by which an application shows it
 * uses an optional peer, on real applications built with the installed peers (scanned in Nest's
 * preview mode: nothing is instantiated, no Redis is needed). A failure names the mark and the
 * installed version. Not named compat-*: the Nest 10 and 11 matrix fixtures have none of these peers.
 */
import { Injectable, Module, type Type } from '@nestjs/common';
import { ModulesContainer } from '@nestjs/core';
import { Test } from '@nestjs/testing';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { GraphQLModule, Query, Resolver } from '@nestjs/graphql';
import { BullModule, Processor, WorkerHost } from '@nestjs/bullmq';
import { WebSocketGateway } from '@nestjs/websockets';
import { TerminusModule } from '@nestjs/terminus';
import { describeInstalled } from '../../src/compat/installed-version';
import { appUsesPeer, loadOptionalPeer, type OptionalPeerFeature } from '../../src/compat/optional-peers';

@Resolver('Query')
class HelloResolver {
  @Query('hello')
  hello(): string {
    return 'world';
  }
}

@Processor('contract')
class ContractProcessor extends WorkerHost {
  process(): Promise<void> {
    return Promise.resolve();
  }
}

@WebSocketGateway()
class ContractGateway {}

@Injectable()
class PlainService {}

const PACKAGE: Record<OptionalPeerFeature, string> = {
  graphql: '@nestjs/graphql',
  bullmq: '@nestjs/bullmq',
  websockets: '@nestjs/websockets',
  terminus: '@nestjs/terminus',
};
const FEATURES = Object.keys(PACKAGE) as OptionalPeerFeature[];

/** What `appUsesPeer` answers for each feature on the application `root` (scanned, not instantiated). */
async function marksOf(root: Type): Promise<Record<OptionalPeerFeature, boolean>> {
  const moduleRef = await Test.createTestingModule({ imports: [root] }).compile({ preview: true });
  const modules = moduleRef.get(ModulesContainer);
  // Not closed: nothing was instantiated, and the peers' shutdown hooks would run on placeholders.
  return Object.fromEntries(FEATURES.map((f) => [f, appUsesPeer(modules, f)])) as Record<
    OptionalPeerFeature,
    boolean
  >;
}

/** Fails with the mark's name and the installed peer's version. */
function holds(mark: string, feature: OptionalPeerFeature, ok: boolean, detail: string): void {
  if (!ok)
    throw new Error(
      `${describeInstalled(PACKAGE[feature])} no longer meets ${mark} of src/compat/optional-peers.ts: ${detail}`,
    );
}

const only = (feature: OptionalPeerFeature): Record<OptionalPeerFeature, boolean> =>
  Object.fromEntries(FEATURES.map((f) => [f, f === feature])) as Record<OptionalPeerFeature, boolean>;

describe('src/compat/optional-peers.ts: how an application shows it uses an optional peer', () => {
  it(`P1: GraphQLModule.forRoot() and forRootAsync() register 'GqlModuleOptions' (${describeInstalled('@nestjs/graphql')})`, async () => {
    @Module({
      imports: [
        GraphQLModule.forRoot<ApolloDriverConfig>({
          driver: ApolloDriver,
          typeDefs: 'type Query { hello: String! }',
        }),
      ],
      providers: [HelloResolver],
    })
    class WithGraphql {}
    @Module({
      imports: [
        GraphQLModule.forRootAsync<ApolloDriverConfig>({
          driver: ApolloDriver,
          useFactory: () => ({ typeDefs: 'type Query { hello: String! }' }),
        }),
      ],
    })
    class WithGraphqlAsync {}
    for (const app of [WithGraphql, WithGraphqlAsync]) {
      const marks = await marksOf(app);
      holds('P1', 'graphql', marks.graphql, `no provider under 'GqlModuleOptions' in ${app.name}`);
      expect(marks).toEqual(only('graphql'));
    }
  });

  it(`P2: a @Processor() class carries 'bullmq:processor_metadata'; registerQueue() registers 'BullMQQueueOptions_<name>' (${describeInstalled('@nestjs/bullmq')})`, async () => {
    const connection = { host: '127.0.0.1', port: 1 };
    @Module({ providers: [ContractProcessor] })
    class ProcessorOnly {}
    @Module({ imports: [BullModule.forRoot({ connection }), BullModule.registerQueue({ name: 'contract' })] })
    class QueueOnly {}
    @Module({
      imports: [BullModule.registerQueueAsync({ name: 'contract', useFactory: () => ({ connection }) })],
    })
    class QueueAsyncOnly {}
    holds(
      'P2',
      'bullmq',
      (await marksOf(ProcessorOnly)).bullmq,
      "the processor's class has no 'bullmq:processor_metadata'",
    );
    holds(
      'P2',
      'bullmq',
      (await marksOf(QueueOnly)).bullmq,
      "registerQueue() registered no 'BullMQQueueOptions_contract'",
    );
    holds(
      'P2',
      'bullmq',
      (await marksOf(QueueAsyncOnly)).bullmq,
      "registerQueueAsync() registered no 'BullMQQueueOptions_contract'",
    );
    expect(await marksOf(QueueOnly)).toEqual(only('bullmq'));
  });

  it(`P3: a @WebSocketGateway() class carries 'websockets:is_gateway' (${describeInstalled('@nestjs/websockets')})`, async () => {
    @Module({ providers: [ContractGateway] })
    class WithGateway {}
    const marks = await marksOf(WithGateway);
    holds('P3', 'websockets', marks.websockets, "the gateway's class has no 'websockets:is_gateway'");
    expect(marks).toEqual(only('websockets'));
  });

  it(`P4: TerminusModule (static, forRoot(), forRootAsync()) registers 'TERMINUS_ERROR_LOGGER' (${describeInstalled('@nestjs/terminus')})`, async () => {
    @Module({ imports: [TerminusModule] })
    class WithTerminus {}
    @Module({ imports: [TerminusModule.forRoot({ logger: false })] })
    class WithTerminusRoot {}
    @Module({ imports: [TerminusModule.forRootAsync({ useFactory: () => ({ logger: false }) })] })
    class WithTerminusAsync {}
    for (const app of [WithTerminus, WithTerminusRoot, WithTerminusAsync]) {
      const marks = await marksOf(app);
      holds('P4', 'terminus', marks.terminus, `no provider under 'TERMINUS_ERROR_LOGGER' in ${app.name}`);
      expect(marks).toEqual(only('terminus'));
    }
  });

  it('an application with none of them shows none (factory, value and class providers)', async () => {
    @Module({
      providers: [
        PlainService,
        { provide: 'VALUE', useValue: { hello: 'world' } },
        { provide: 'FACTORY', useFactory: () => ContractGateway }, // a factory, even returning a gateway class
        { provide: 'GqlModuleOptionsNot', useValue: {} },
      ],
    })
    class Plain {}
    expect(await marksOf(Plain)).toEqual({
      graphql: false,
      bullmq: false,
      websockets: false,
      terminus: false,
    });
  });

  it('loadOptionalPeer: undefined when the package is not installed, its error when it is broken', () => {
    expect(loadOptionalPeer('veza-no-such-package')).toBeUndefined();
    const broken = new Error("Cannot find module 'left-pad'") as Error & { code?: string };
    broken.code = 'MODULE_NOT_FOUND'; // a dependency of the peer missing: a broken install, not an absent peer
    expect(() =>
      loadOptionalPeer('some-peer', () => {
        throw broken;
      }),
    ).toThrow(broken);
    expect(loadOptionalPeer('some-peer', () => 'loaded')).toBe('loaded');
  });
});
