import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { CountPlaylistCreated } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { NotificationsClient } from '../notifications/notifications.client';
import { TracksService } from '../tracks/tracks.service';
import type { CreatePlaylistDto } from './dto/create-playlist.dto';
import type { Playlist } from './playlist.entity';
import { PlaylistsRepository } from './playlists.repository';

@Injectable()
export class PlaylistsService {
  constructor(
    private readonly playlists: PlaylistsRepository,
    private readonly tracks: TracksService,
    private readonly notifications: NotificationsClient,
  ) {}

  /** A playlist naming an unknown track is a 400, and creates nothing. */
  @CountPlaylistCreated()
  async create(ownerId: string, dto: CreatePlaylistDto): Promise<Playlist> {
    const trackIds = dto.trackIds ?? [];
    const known = await Promise.all(trackIds.map((id) => this.tracks.exists(id)));
    const unknown = trackIds.filter((_id, i) => !known[i]);
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
  listPublic(): Promise<Playlist[]> {
    return this.playlists.findPublic();
  }

  /** A public playlist by id; an unknown or private one is a 404. */
  async findPublic(id: string): Promise<Playlist> {
    const playlist = await this.playlists.findById(id);
    if (!playlist?.isPublic) throw new NotFoundException(`Playlist ${id} not found`);
    return playlist;
  }

  /**
   * Shares a public playlist: the notifications microservice tells `recipient`. Whether it was
   * delivered is the answer; an undeliverable notification never fails the share.
   */
  async share(id: string, recipient: string): Promise<{ playlist: Playlist; delivered: boolean }> {
    const playlist = await this.findPublic(id);
    const delivered = await this.notifications.send({
      recipient,
      subject: `A playlist for you: ${playlist.name}`,
      body: `${playlist.trackIds.length} tracks`,
    });
    return { playlist, delivered };
  }
}
