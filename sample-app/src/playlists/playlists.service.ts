import { BadRequestException, Injectable } from '@nestjs/common';
import { CountPlaylistCreated } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { TracksService } from '../tracks/tracks.service';
import type { CreatePlaylistDto } from './dto/create-playlist.dto';
import type { Playlist } from './playlist.entity';
import { PlaylistsRepository } from './playlists.repository';

@Injectable()
export class PlaylistsService {
  constructor(
    private readonly playlists: PlaylistsRepository,
    private readonly tracks: TracksService,
  ) {}

  /** A playlist naming an unknown track is a 400, and creates nothing. */
  @CountPlaylistCreated()
  create(ownerId: string, dto: CreatePlaylistDto): Playlist {
    const trackIds = dto.trackIds ?? [];
    const unknown = trackIds.filter((id) => !this.tracks.exists(id));
    if (unknown.length > 0) throw new BadRequestException(`Unknown tracks: ${unknown.join(', ')}`);
    return this.playlists.insert({
      id: randomUUID(),
      ownerId,
      name: dto.name,
      trackIds,
      isPublic: dto.isPublic ?? true,
      createdAt: new Date().toISOString(),
    });
  }

  /** The public playlists. */
  listPublic(): Playlist[] {
    return this.playlists.findPublic();
  }
}
