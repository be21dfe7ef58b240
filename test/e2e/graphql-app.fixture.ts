/**
 * A catalog GraphQL API (tracks, playlists), once code-first and once schema-first, served by
 * `@nestjs/graphql` with the Apollo driver (Express, Fastify) or the Mercurius driver (Fastify).
 * Not one line of metrics code in it.
 */
import { NotFoundException, type DynamicModule, type INestApplication } from '@nestjs/common';
import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { MercuriusDriver, type MercuriusDriverConfig } from '@nestjs/mercurius';
import {
  Args,
  Field,
  GraphQLModule,
  Int,
  Mutation,
  ObjectType,
  Parent,
  Query,
  ResolveField,
  Resolver,
} from '@nestjs/graphql';
import { startApp } from '../utils/app';

@ObjectType()
export class Track {
  @Field(() => Int) id!: number;
  @Field() title!: string;
  @Field(() => Int) artistId!: number;
}

@ObjectType()
export class Playlist {
  @Field(() => Int) id!: number;
  @Field() name!: string;
}

const TRACKS: Track[] = [
  { id: 1, title: 'One', artistId: 7 },
  { id: 2, title: 'Two', artistId: 8 },
];

@Resolver(() => Track)
export class TrackResolver {
  @Query(() => Track, { nullable: true })
  track(@Args('id', { type: () => Int }) id: number): Track | undefined {
    return TRACKS.find((t) => t.id === id);
  }

  @Query(() => [Track])
  tracks(): Promise<Track[]> {
    return Promise.resolve(TRACKS);
  }

  /** A field with a resolver of its own. */
  @ResolveField(() => String)
  artist(@Parent() track: Track): string {
    return `artist-${track.artistId}`;
  }

  @Query(() => String, { nullable: true })
  failing(): Promise<string> {
    return Promise.reject(new NotFoundException('no such track'));
  }

  @Query(() => String, { nullable: true })
  throwing(): string {
    throw new TypeError('broken resolver');
  }
}

@Resolver(() => Playlist)
export class PlaylistResolver {
  private next = 1;

  @Mutation(() => Playlist)
  createPlaylist(@Args('name') name: string): Playlist {
    return { id: this.next++, name };
  }
}

/** The same API, schema-first. */
export const TYPE_DEFS = /* GraphQL */ `
  type Track {
    id: Int!
    title: String!
    artistId: Int!
    artist: String!
  }
  type Playlist {
    id: Int!
    name: String!
  }
  type Query {
    track(id: Int!): Track
    tracks: [Track!]!
    failing: String
    throwing: String
  }
  type Mutation {
    createPlaylist(name: String!): Playlist!
  }
`;

@Resolver('Track')
export class SchemaFirstTrackFields {
  @ResolveField('artist')
  artist(@Parent() track: Track): string {
    return `artist-${track.artistId}`;
  }
}

@Resolver('Query')
export class SchemaFirstQueries {
  @Query('track')
  track(@Args('id') id: number): Track | undefined {
    return TRACKS.find((t) => t.id === id);
  }

  @Query('tracks')
  tracks(): Promise<Track[]> {
    return Promise.resolve(TRACKS);
  }

  @Query('failing')
  failing(): Promise<string> {
    return Promise.reject(new NotFoundException('no such track'));
  }

  @Query('throwing')
  throwing(): string {
    throw new TypeError('broken resolver');
  }
}

@Resolver('Mutation')
export class SchemaFirstMutations {
  private next = 1;

  @Mutation('createPlaylist')
  createPlaylist(@Args('name') name: string): Playlist {
    return { id: this.next++, name };
  }
}

export type GraphqlDriverKind = 'apollo-express' | 'apollo-fastify' | 'mercurius';
export type SchemaStyle = 'code-first' | 'schema-first';

function graphqlModule(driver: GraphqlDriverKind, style: SchemaStyle): DynamicModule {
  const schema = style === 'code-first' ? { autoSchemaFile: true as const } : { typeDefs: TYPE_DEFS };
  if (driver === 'mercurius')
    return GraphQLModule.forRoot<MercuriusDriverConfig>({
      driver: MercuriusDriver,
      graphiql: false,
      ...schema,
    });
  return GraphQLModule.forRoot<ApolloDriverConfig>({
    driver: ApolloDriver,
    playground: false,
    graphiql: false,
    ...schema,
  });
}

/** Starts the catalog API on `driver`, in `style`, with `imports` beside it (the metrics module or nothing). */
export async function startGraphqlApp(
  driver: GraphqlDriverKind,
  style: SchemaStyle,
  imports: DynamicModule[],
): Promise<{ app: INestApplication; url: string }> {
  const providers =
    style === 'code-first'
      ? [TrackResolver, PlaylistResolver]
      : [SchemaFirstTrackFields, SchemaFirstQueries, SchemaFirstMutations];
  return startApp(driver === 'apollo-express' ? 'express' : 'fastify', {
    imports: [...imports, graphqlModule(driver, style)],
    providers,
  });
}

/** POSTs one GraphQL request; the status and the parsed body. */
export async function gql(
  url: string,
  query: string,
  operationName?: string,
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'apollo-require-preflight': 'true' },
    body: JSON.stringify(operationName === undefined ? { query } : { query, operationName }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // kept as text
  }
  return { status: res.status, body };
}
