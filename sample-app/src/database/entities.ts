import { EntitySchema } from 'typeorm';
import type { Order, Transfer } from '../commerce/commerce.entities';
import type { Playlist } from '../playlists/playlist.entity';
import type { Track } from '../tracks/track.entity';
import type { Upload } from '../uploads/upload.entity';
import type { User } from '../users/user.entity';

// The sample's tables, as TypeORM entity schemas over the plain interfaces the services use. Their
// names are the tables' names: the `table` label of veza_database_query_duration_seconds.

const id = { type: String, primary: true } as const;
const createdAt = { type: String } as const;

export const UserEntity = new EntitySchema<User>({
  name: 'users',
  columns: {
    id,
    email: { type: String, unique: true },
    displayName: { type: String },
    passwordHash: { type: String },
    createdAt,
  },
});

export const UploadEntity = new EntitySchema<Upload>({
  name: 'uploads',
  columns: {
    id,
    ownerId: { type: String },
    filename: { type: String },
    mimeType: { type: String },
    type: { type: String },
    sizeBytes: { type: 'integer' },
    createdAt,
  },
});

export const TrackEntity = new EntitySchema<Track>({
  name: 'tracks',
  columns: {
    id,
    title: { type: String },
    artist: { type: String },
    durationSeconds: { type: 'integer' },
    ownerId: { type: String },
    uploadId: { type: String, nullable: true },
    createdAt,
  },
});

export const PlaylistEntity = new EntitySchema<Playlist>({
  name: 'playlists',
  columns: {
    id,
    ownerId: { type: String },
    name: { type: String },
    trackIds: { type: 'simple-json' },
    isPublic: { type: Boolean },
    createdAt,
  },
});

export const OrderEntity = new EntitySchema<Order>({
  name: 'orders',
  columns: {
    id,
    userId: { type: String },
    items: { type: 'simple-json' },
    totalCents: { type: 'integer' },
    status: { type: String },
    createdAt,
  },
});

export const TransferEntity = new EntitySchema<Transfer>({
  name: 'transfers',
  columns: {
    id,
    sellerAccount: { type: String },
    amountCents: { type: 'integer' },
    status: { type: String },
    retries: { type: 'integer' },
    createdAt,
  },
});

export const ENTITIES = [UserEntity, UploadEntity, TrackEntity, PlaylistEntity, OrderEntity, TransferEntity];
