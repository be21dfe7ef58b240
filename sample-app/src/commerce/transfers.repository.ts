import { Injectable } from '@nestjs/common';
import { TrackDbQuery } from '@veza/nestjs-metrics';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import type { Transfer } from './commerce.entities';

/** The `transfers` table: each method is one query, timed, and counted by `code` when it fails. */
@Injectable()
export class TransfersRepository {
  private readonly table: InMemoryTable<Transfer>;

  constructor(database: DatabaseService) {
    this.table = database.table<Transfer>('transfers');
  }

  @TrackDbQuery('insert', 'transfers')
  insert(transfer: Transfer): Transfer {
    return this.table.insert(transfer);
  }

  @TrackDbQuery('select', 'transfers')
  findById(id: string): Transfer | undefined {
    return this.table.findById(id);
  }

  /** Throws `RowNotFoundError` for an unknown id. */
  @TrackDbQuery('update', 'transfers')
  update(id: string, changes: Partial<Omit<Transfer, 'id'>>): Transfer {
    return this.table.update(id, changes);
  }
}
