import { Field, ID, Int, ObjectType } from '@nestjs/graphql';

@ObjectType('Track')
export class TrackModel {
  @Field(() => ID) id!: string;
  @Field() title!: string;
  @Field() artist!: string;
  @Field(() => Int) durationSeconds!: number;
}

@ObjectType('Playlist')
export class PlaylistModel {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  /** Resolved by PlaylistsResolver#tracks from the playlist's track ids. */
  trackIds!: readonly string[];
}

@ObjectType('PlaylistShare')
export class PlaylistShareModel {
  @Field(() => PlaylistModel) playlist!: PlaylistModel;
  @Field() recipient!: string;
  @Field({ description: 'Whether the notifications microservice delivered the notification.' })
  delivered!: boolean;
}
