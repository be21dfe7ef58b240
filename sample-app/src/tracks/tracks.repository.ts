import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { TrackEntity } from '../database/entities';
import type { Track } from './track.entity';

/** The `tracks` table: each method is one query. */
@Injectable()
export class TracksRepository {
  constructor(@InjectRepository(TrackEntity) private readonly table: Repository<Track>) {}

  async insert(track: Track): Promise<Track> {
    await this.table.insert(track);
    return track;
  }

  async findById(id: string): Promise<Track | undefined> {
    return (await this.table.findOneBy({ id })) ?? undefined;
  }

  findAll(): Promise<Track[]> {
    return this.table.find();
  }
}
