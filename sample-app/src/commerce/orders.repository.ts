import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { OrderEntity } from '../database/entities';
import type { Order } from './commerce.entities';

/** The `orders` table: each method is one query. */
@Injectable()
export class OrdersRepository {
  constructor(@InjectRepository(OrderEntity) private readonly table: Repository<Order>) {}

  async insert(order: Order): Promise<Order> {
    await this.table.insert({ ...order, items: [...order.items] });
    return order;
  }

  findByUser(userId: string): Promise<Order[]> {
    return this.table.findBy({ userId });
  }
}
