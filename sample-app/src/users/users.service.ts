import { ConflictException, Injectable } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { UniqueViolationError } from '../database/in-memory-table';
import { hashPassword } from './password';
import type { User } from './user.entity';
import { UsersRepository } from './users.repository';

/** Veza accounts. */
@Injectable()
export class UsersService {
  constructor(private readonly users: UsersRepository) {}

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
      if (error instanceof UniqueViolationError)
        throw new ConflictException('An account with this email already exists');
      throw error;
    }
  }

  findByEmail(email: string): User | undefined {
    return this.users.findByEmail(normalizeEmail(email));
  }

  findById(id: string): User | undefined {
    return this.users.findById(id);
  }
}

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}
