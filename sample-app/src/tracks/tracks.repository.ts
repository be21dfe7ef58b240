import { Injectable } from '@nestjs/common';
import { TrackDbQuery } from '@veza/nestjs-metrics';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import type { Track } from './track.entity';

/** The `tracks` table: each method is one query, timed, and counted by `code` when it fails. */
@Injectable()
export class TracksRepository {
  private readonly table: InMemoryTable<Track>;

  constructor(database: DatabaseService) {
    this.table = database.table<Track>('tracks');
  }

  @TrackDbQuery('insert', 'tracks')
  insert(track: Track): Track {
    return this.table.insert(track);
  }

  @TrackDbQuery('select', 'tracks')
  findById(id: string): Track | undefined {
    return this.table.findById(id);
  }

  @TrackDbQuery('select', 'tracks')
  findAll(): Track[] {
    return this.table.findMany();
  }
}
