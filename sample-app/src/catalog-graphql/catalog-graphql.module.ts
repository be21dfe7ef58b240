import { ApolloDriver, type ApolloDriverConfig } from '@nestjs/apollo';
import { Module } from '@nestjs/common';
import { GraphQLModule } from '@nestjs/graphql';
import { PlaylistsModule } from '../playlists/playlists.module';
import { TracksModule } from '../tracks/tracks.module';
import { PlaylistsResolver, TracksResolver } from './catalog.resolvers';

/**
 * The catalog's GraphQL API at POST /graphql (code-first, Apollo, on the app's HTTP adapter). No
 * metrics code: the library records each operation, and the root fields and `Playlist.tracks`.
 */
@Module({
  imports: [
    GraphQLModule.forRoot<ApolloDriverConfig>({
      driver: ApolloDriver,
      path: '/graphql',
      autoSchemaFile: true,
      sortSchema: true,
      playground: false,
      graphiql: false,
    }),
    TracksModule,
    PlaylistsModule,
  ],
  providers: [TracksResolver, PlaylistsResolver],
})
export class CatalogGraphqlModule {}
