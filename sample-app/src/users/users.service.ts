import { ConflictException, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { DatabaseService } from '../database/database.service';
import { UniqueViolationError, type InMemoryTable } from '../database/in-memory-table';
import { hashPassword } from './password';
import type { User } from './user.entity';

/** The `users` table. */
@Injectable()
export class UsersService {
  private readonly users: InMemoryTable<User>;

  constructor(database: DatabaseService) {
    this.users = database.table<User>('users', ['email']);
  }

  /** Inserts a user; a taken email is a 409. */
  create(email: string, password: string, displayName: string): User {
    const user: User = {
      id: randomUUID(),
      email: normalizeEmail(email),
      displayName,
      passwordHash: hashPassword(password),
      createdAt: new Date().toISOString(),
    };
    try {
      return this.users.insert(user);
    } catch (error) {
      if (error instanceof UniqueViolationError) throw new ConflictException('An account with this email already exists');
      throw error;
    }
  }

  findByEmail(email: string): User | undefined {
    const normalized = normalizeEmail(email);
    return this.users.findOne((u) => u.email === normalized);
  }

  findById(id: string): User | undefined {
    return this.users.findById(id);
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
