import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { TransferEntity } from '../database/entities';
import type { Transfer } from './commerce.entities';

/** The `transfers` table: each method is one query. */
@Injectable()
export class TransfersRepository {
  constructor(@InjectRepository(TransferEntity) private readonly table: Repository<Transfer>) {}

  async insert(transfer: Transfer): Promise<Transfer> {
    await this.table.insert(transfer);
    return transfer;
  }

  async findById(id: string): Promise<Transfer | undefined> {
    return (await this.table.findOneBy({ id })) ?? undefined;
  }

  /** One UPDATE; the transfer as it is now (the row as read, with the changes). */
  async update(transfer: Transfer, changes: Partial<Omit<Transfer, 'id'>>): Promise<Transfer> {
    await this.table.update({ id: transfer.id }, changes);
    return { ...transfer, ...changes };
  }
}
