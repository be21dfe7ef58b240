import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { UserEntity } from '../database/entities';
import type { User } from './user.entity';

/** The `users` table: each method is one query. */
@Injectable()
export class UsersRepository {
  constructor(@InjectRepository(UserEntity) private readonly table: Repository<User>) {}

  /** Rejects with TypeORM's `QueryFailedError` (SQLITE_CONSTRAINT) for a taken email. */
  async insert(user: User): Promise<User> {
    await this.table.insert(user);
    return user;
  }

  async findByEmail(email: string): Promise<User | undefined> {
    return (await this.table.findOneBy({ email })) ?? undefined;
  }

  async findById(id: string): Promise<User | undefined> {
    return (await this.table.findOneBy({ id })) ?? undefined;
  }
}
