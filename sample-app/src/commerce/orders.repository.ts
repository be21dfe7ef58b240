import { Injectable } from '@nestjs/common';
import { TrackDbQuery } from '@veza/nestjs-metrics';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import type { Order } from './commerce.entities';

/** The `orders` table: each method is one query, timed, and counted by `code` when it fails. */
@Injectable()
export class OrdersRepository {
  private readonly table: InMemoryTable<Order>;

  constructor(database: DatabaseService) {
    this.table = database.table<Order>('orders');
  }

  @TrackDbQuery('insert', 'orders')
  insert(order: Order): Order {
    return this.table.insert(order);
  }

  @TrackDbQuery('select', 'orders')
  findByUser(userId: string): Order[] {
    return this.table.findMany((o) => o.userId === userId);
  }
}
