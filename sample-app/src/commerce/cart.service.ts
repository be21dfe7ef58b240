import { Injectable } from '@nestjs/common';
import { Counted } from '@veza/nestjs-metrics';
import type { CartItem } from './commerce.entities';
import { ProductsService } from './products.service';

/** One cart per user. */
@Injectable()
export class CartService {
  private readonly carts = new Map<string, CartItem[]>();

  constructor(private readonly products: ProductsService) {}

  items(userId: string): readonly CartItem[] {
    return this.carts.get(userId) ?? [];
  }

  /** An unknown product is a 404 and is not counted, so the `product` label stays within the catalog. */
  @Counted<[string, string, number]>({
    name: 'sample_cart_additions_total',
    help: 'Products added to a cart, by product',
    labelNames: ['product'],
    labels: ({ args: [, productId] }) => ({ product: productId }),
    on: 'success',
  })
  add(userId: string, productId: string, quantity: number): readonly CartItem[] {
    this.products.get(productId);
    const others = this.items(userId).filter((i) => i.productId !== productId);
    const current = this.items(userId).find((i) => i.productId === productId)?.quantity ?? 0;
    const items = [...others, { productId, quantity: current + quantity }];
    this.carts.set(userId, items);
    return items;
  }

  totalCents(items: readonly CartItem[]): number {
    return items.reduce((sum, i) => sum + this.products.get(i.productId).priceCents * i.quantity, 0);
  }

  clear(userId: string): void {
    this.carts.delete(userId);
  }
}
