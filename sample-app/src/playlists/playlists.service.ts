import { BadRequestException, Injectable } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import { TracksService } from '../tracks/tracks.service';
import type { CreatePlaylistDto } from './dto/create-playlist.dto';
import type { Playlist } from './playlist.entity';

@Injectable()
export class PlaylistsService {
  private readonly playlists: InMemoryTable<Playlist>;

  constructor(
    database: DatabaseService,
    private readonly tracks: TracksService,
    private readonly metrics: VezaMetricsService,
  ) {
    this.playlists = database.table<Playlist>('playlists');
  }

  create(ownerId: string, dto: CreatePlaylistDto): Playlist {
    const trackIds = dto.trackIds ?? [];
    const unknown = trackIds.filter((id) => !this.tracks.exists(id));
    if (unknown.length > 0) throw new BadRequestException(`Unknown tracks: ${unknown.join(', ')}`);
    const playlist = this.playlists.insert({
      id: randomUUID(),
      ownerId,
      name: dto.name,
      trackIds,
      isPublic: dto.isPublic ?? true,
      createdAt: new Date().toISOString(),
    });
    this.metrics.recordPlaylistCreated();
    return playlist;
  }

  /** The public playlists. */
  listPublic(): Playlist[] {
    return this.playlists.findMany((p) => p.isPublic);
  }
}
