import { Injectable } from '@nestjs/common';
import { TrackDbQuery } from '@veza/nestjs-metrics';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import type { Upload } from './upload.entity';

/** The `uploads` table: each method is one query, timed, and counted by `code` when it fails. */
@Injectable()
export class UploadsRepository {
  private readonly table: InMemoryTable<Upload>;

  constructor(database: DatabaseService) {
    this.table = database.table<Upload>('uploads');
  }

  @TrackDbQuery('insert', 'uploads')
  insert(upload: Upload): Upload {
    return this.table.insert(upload);
  }

  @TrackDbQuery('select', 'uploads')
  findById(id: string): Upload | undefined {
    return this.table.findById(id);
  }

  @TrackDbQuery('select', 'uploads')
  findByOwner(ownerId: string): Upload[] {
    return this.table.findMany((u) => u.ownerId === ownerId);
  }
}
