import { ConflictException, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { QueryFailedError } from 'typeorm';
import { hashPassword } from './password';
import type { User } from './user.entity';
import { UsersRepository } from './users.repository';

/** Veza accounts. */
@Injectable()
export class UsersService {
  constructor(private readonly users: UsersRepository) {}

  /** Inserts a user; a taken email is a 409. */
  async create(email: string, password: string, displayName: string): Promise<User> {
    const user: User = {
      id: randomUUID(),
      email: normalizeEmail(email),
      displayName,
      passwordHash: hashPassword(password),
      createdAt: new Date().toISOString(),
    };
    try {
      return await this.users.insert(user);
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictException('An account with this email already exists');
      throw error;
    }
  }

  findByEmail(email: string): Promise<User | undefined> {
    return this.users.findByEmail(normalizeEmail(email));
  }

  findById(id: string): Promise<User | undefined> {
    return this.users.findById(id);
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** A unique constraint refused the row: SQLite says `UNIQUE constraint failed`, PostgreSQL `23505`. */
function isUniqueViolation(error: unknown): boolean {
  if (!(error instanceof QueryFailedError)) return false;
  const driverError = error.driverError as { code?: unknown } | undefined;
  return driverError?.code === '23505' || /UNIQUE constraint failed/.test(error.message);
}
