import { BadRequestException, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import { CartService } from './cart.service';
import type { Order } from './commerce.entities';
import { PaymentProvider } from './payment-provider';

/**
 * Turns a cart into an order: charges it, stores the order as `completed` or `failed`, counts it by
 * status and observes how long the checkout took. A declined payment is a 402 (cart kept).
 */
@Injectable()
export class CheckoutService {
  private readonly orders: InMemoryTable<Order>;

  constructor(
    database: DatabaseService,
    private readonly cart: CartService,
    private readonly payments: PaymentProvider,
    private readonly metrics: VezaMetricsService,
  ) {
    this.orders = database.table<Order>('orders');
  }

  checkout(userId: string, paymentToken: string): Order {
    const items = this.cart.items(userId);
    if (items.length === 0) throw new BadRequestException('The cart is empty');
    const started = performance.now();
    const totalCents = this.cart.totalCents(items);
    const paid = this.payments.charge(paymentToken, totalCents) === 'succeeded';
    const order = this.orders.insert({
      id: randomUUID(),
      userId,
      items,
      totalCents,
      status: paid ? 'completed' : 'failed',
      createdAt: new Date().toISOString(),
    });
    this.metrics.recordCommerceOrder(order.status);
    this.metrics.recordCheckoutDuration((performance.now() - started) / 1000);
    if (!paid) {
      this.metrics.recordError('payment_declined', 'warning');
      throw new HttpException({ message: 'The payment was declined', orderId: order.id }, HttpStatus.PAYMENT_REQUIRED);
    }
    this.cart.clear(userId);
    return order;
  }

  ordersOf(userId: string): Order[] {
    return this.orders.findMany((o) => o.userId === userId);
  }
}
