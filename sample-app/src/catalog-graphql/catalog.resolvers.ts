import { Args, ID, Mutation, Parent, Query, ResolveField, Resolver } from '@nestjs/graphql';
import { PlaylistsService } from '../playlists/playlists.service';
import { TracksService } from '../tracks/tracks.service';
import { PlaylistModel, PlaylistShareModel, TrackModel } from './catalog.models';

/** The catalog's tracks over GraphQL, from the same service (and cache) as GET /tracks. */
@Resolver(() => TrackModel)
export class TracksResolver {
  constructor(private readonly catalog: TracksService) {}

  @Query(() => [TrackModel])
  tracks(): Promise<TrackModel[]> {
    return this.catalog.list();
  }

  /** An unknown id is an error (NotFoundException) in the answer's `errors`. */
  @Query(() => TrackModel)
  track(@Args('id', { type: () => ID }) id: string): Promise<TrackModel> {
    return this.catalog.findOne(id);
  }
}

/** Public playlists over GraphQL; their tracks come from a field resolver; sharing one notifies someone. */
@Resolver(() => PlaylistModel)
export class PlaylistsResolver {
  constructor(
    private readonly playlistsService: PlaylistsService,
    private readonly tracksService: TracksService,
  ) {}

  @Query(() => [PlaylistModel])
  playlists(): Promise<PlaylistModel[]> {
    return this.playlistsService.listPublic();
  }

  @ResolveField(() => [TrackModel])
  tracks(@Parent() playlist: PlaylistModel): Promise<TrackModel[]> {
    return Promise.all(playlist.trackIds.map((id) => this.tracksService.findOne(id)));
  }

  /** Tells `recipient` about a public playlist, through the notifications microservice. */
  @Mutation(() => PlaylistShareModel)
  sharePlaylist(
    @Args('playlistId', { type: () => ID }) playlistId: string,
    @Args('recipient') recipient: string,
  ): Promise<PlaylistShareModel> {
    return this.playlistsService
      .share(playlistId, recipient)
      .then(({ playlist, delivered }) => ({ playlist, recipient, delivered }));
  }
}
