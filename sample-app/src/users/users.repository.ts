import { Injectable } from '@nestjs/common';
import { TrackDbQuery } from '@veza/nestjs-metrics';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import type { User } from './user.entity';

/** The `users` table: each method is one query, timed, and counted by `code` when it fails. */
@Injectable()
export class UsersRepository {
  private readonly table: InMemoryTable<User>;

  constructor(database: DatabaseService) {
    this.table = database.table<User>('users', ['email']);
  }

  /** Throws `UniqueViolationError` for a taken email. */
  @TrackDbQuery('insert', 'users')
  insert(user: User): User {
    return this.table.insert(user);
  }

  @TrackDbQuery('select', 'users')
  findByEmail(email: string): User | undefined {
    return this.table.findOne((u) => u.email === email);
  }

  @TrackDbQuery('select', 'users')
  findById(id: string): User | undefined {
    return this.table.findById(id);
  }
}
