export interface Playlist {
  readonly id: string;
  readonly ownerId: string;
  readonly name: string;
  readonly trackIds: readonly string[];
  readonly isPublic: boolean;
  readonly createdAt: string;
}
