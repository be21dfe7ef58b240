import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { PlaylistEntity } from '../database/entities';
import type { Playlist } from './playlist.entity';

/** The `playlists` table: each method is one query. */
@Injectable()
export class PlaylistsRepository {
  constructor(@InjectRepository(PlaylistEntity) private readonly table: Repository<Playlist>) {}

  async insert(playlist: Playlist): Promise<Playlist> {
    await this.table.insert({ ...playlist, trackIds: [...playlist.trackIds] });
    return playlist;
  }

  async findById(id: string): Promise<Playlist | undefined> {
    return (await this.table.findOneBy({ id })) ?? undefined;
  }

  findPublic(): Promise<Playlist[]> {
    return this.table.findBy({ isPublic: true });
  }
}
