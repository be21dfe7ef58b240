import { Injectable } from '@nestjs/common';
import { TrackDbQuery } from '@veza/nestjs-metrics';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import type { Playlist } from './playlist.entity';

/** The `playlists` table: each method is one query, timed, and counted by `code` when it fails. */
@Injectable()
export class PlaylistsRepository {
  private readonly table: InMemoryTable<Playlist>;

  constructor(database: DatabaseService) {
    this.table = database.table<Playlist>('playlists');
  }

  @TrackDbQuery('insert', 'playlists')
  insert(playlist: Playlist): Playlist {
    return this.table.insert(playlist);
  }

  @TrackDbQuery('select', 'playlists')
  findById(id: string): Playlist | undefined {
    return this.table.findOne((p) => p.id === id);
  }

  @TrackDbQuery('select', 'playlists')
  findPublic(): Playlist[] {
    return this.table.findMany((p) => p.isPublic);
  }
}
