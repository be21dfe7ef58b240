import { BadRequestException, HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { CountErrors, CountOrder, TimeCheckout } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { CartService } from './cart.service';
import type { CartItem, Order } from './commerce.entities';
import { OrdersRepository } from './orders.repository';
import { PaymentProvider } from '../payments/payment-provider';

/** The payment provider declined the charge: a 402; the order is stored as `failed` and the cart kept. */
export class PaymentDeclinedException extends HttpException {
  constructor(readonly orderId: string) {
    super({ message: 'The payment was declined', orderId }, HttpStatus.PAYMENT_REQUIRED);
  }
}

const declined = (error: unknown): boolean => error instanceof PaymentDeclinedException;

/**
 * Turns a cart into an order: charges it and stores the order as `completed` or `failed`. An empty
 * cart is a 400 before any checkout starts; a declined payment is a 402 (cart kept).
 */
@Injectable()
export class CheckoutService {
  constructor(
    private readonly orders: OrdersRepository,
    private readonly cart: CartService,
    private readonly payments: PaymentProvider,
  ) {}

  async checkout(userId: string, paymentToken: string): Promise<Order> {
    const items = this.cart.items(userId);
    if (items.length === 0) throw new BadRequestException('The cart is empty');
    const order = await this.placeOrder(userId, items, paymentToken);
    this.cart.clear(userId);
    return order;
  }

  ordersOf(userId: string): Promise<Order[]> {
    return this.orders.findByUser(userId);
  }

  /**
   * The checkout proper, timed whatever its outcome: the order it stores is counted by status
   * (`completed`), or as `failed` when it throws (a declined payment, counted as an error too).
   */
  @TimeCheckout()
  @CountOrder()
  @CountErrors({
    type: (error) => (declined(error) ? 'payment_declined' : 'checkout_failed'),
    severity: (error) => (declined(error) ? 'warning' : 'error'),
  })
  private async placeOrder(userId: string, items: readonly CartItem[], paymentToken: string): Promise<Order> {
    const totalCents = this.cart.totalCents(items);
    const paid = (await this.payments.charge(paymentToken, totalCents)) === 'succeeded';
    const order = await this.orders.insert({
      id: randomUUID(),
      userId,
      items,
      totalCents,
      status: paid ? 'completed' : 'failed',
      createdAt: new Date().toISOString(),
    });
    if (!paid) throw new PaymentDeclinedException(order.id);
    return order;
  }
}
