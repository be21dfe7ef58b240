export interface Track {
  readonly id: string;
  readonly title: string;
  readonly artist: string;
  readonly durationSeconds: number;
  readonly ownerId: string;
  /** The audio file, when the track was made from an upload. */
  readonly uploadId?: string;
  readonly createdAt: string;
}
