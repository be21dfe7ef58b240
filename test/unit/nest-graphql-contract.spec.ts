/**
 * Contract tests of src/compat/nest-graphql.ts: each assumption (G1-G3) it makes of @nestjs/graphql,
 * its Apollo driver and graphql-js, on a real code-first Apollo application, queried through
 * light-my-request (no socket). A failure names the assumption and the installed version. Not named
 * compat-*: the Nest 10 and 11 matrix fixtures have no GraphQL packages.
 */
import { Injectable, Module, type INestApplication } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import {
  Field,
  GraphQLModule,
  GraphQLSchemaHost,
  ObjectType,
  Query,
  ResolveField,
  Resolver,
} from '@nestjs/graphql';
import { describeInstalled } from '../../src/compat/installed-version';
import {
  markApolloPlugin,
  replaceResolvers,
  type FieldOfSchema,
  type SchemaLike,
} from '../../src/compat/nest-graphql';

const against = ['@nestjs/graphql', '@nestjs/apollo', 'graphql'].map(describeInstalled).join(', ');

function holds(assumption: string, ok: boolean, detail: string): void {
  if (!ok)
    throw new Error(`${against} no longer meets ${assumption} of src/compat/nest-graphql.ts: ${detail}`);
}

@ObjectType()
class Track {
  @Field()
  title!: string;
}

@Resolver(() => Track)
class TrackResolver {
  @Query(() => Track)
  track(): Track {
    return { title: 'one' };
  }

  @ResolveField(() => String)
  artist(): string {
    return 'someone';
  }
}

/** An Apollo Server plugin marked only with G1's key (never `@Plugin()`). */
@Injectable()
class CountingPlugin {
  static requests = 0;
  requestDidStart(): Promise<void> {
    CountingPlugin.requests++;
    return Promise.resolve();
  }
}
markApolloPlugin(CountingPlugin);

@Module({
  imports: [GraphQLModule.forRoot<ApolloDriverConfig>({ driver: ApolloDriver, autoSchemaFile: true })],
  providers: [TrackResolver, CountingPlugin],
})
class AppModule {}

describe(`src/compat/nest-graphql.ts: what we assume of @nestjs/graphql and Apollo (${against})`, () => {
  let app: INestApplication;
  const query = async (source: string): Promise<unknown> => {
    const { inject } = jest.requireActual<typeof import('light-my-request')>('light-my-request');
    const response = await inject(app.getHttpAdapter().getInstance() as never, {
      method: 'POST',
      url: '/graphql',
      payload: { query: source },
    });
    return JSON.parse(response.body) as unknown;
  };

  beforeAll(async () => {
    const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
    app = moduleRef.createNestApplication({ logger: false });
    await app.init();
  });
  afterAll(async () => app?.close());

  it('G2, G3: before the first request, a field read off the parent has rootFieldResolver; a resolver set on the served schema runs', async () => {
    const schema = app.get(GraphQLSchemaHost).schema as unknown as SchemaLike;
    const seen: FieldOfSchema[] = [];
    const replaced = replaceResolvers(schema, (field) => {
      seen.push(field);
      if (field.parentType !== 'Track') return undefined;
      return () => `replaced ${field.field}`;
    });
    const title = seen.find((f) => f.parentType === 'Track' && f.field === 'title');
    const artist = seen.find((f) => f.parentType === 'Track' && f.field === 'artist');
    const track = seen.find((f) => f.parentType === 'Query' && f.field === 'track');
    holds(
      'G2',
      title?.fromParent === true,
      `Track.title's resolver is ${String(title?.resolver?.name)}: ${String(title?.resolver)}`,
    );
    holds(
      'G2',
      artist?.fromParent === false && track?.fromParent === false,
      'a resolved field reads as read off the parent',
    );
    holds('G3', track?.root === true && title?.root === false, 'root fields not told apart');
    holds('G3', replaced === 2, `${replaced} fields replaced`);
    const result = await query('{ track { title artist } }');
    holds(
      'G3',
      JSON.stringify(result) === '{"data":{"track":{"title":"replaced title","artist":"replaced artist"}}}',
      `the served schema answered ${JSON.stringify(result)}`,
    );
  });

  it("G1: a provider whose class carries 'graphql:plugin' is one of Apollo Server's plugins", async () => {
    const before = CountingPlugin.requests;
    await query('{ track { title } }');
    holds(
      'G1',
      CountingPlugin.requests === before + 1,
      `requestDidStart ran ${CountingPlugin.requests - before} times`,
    );
  });
});
