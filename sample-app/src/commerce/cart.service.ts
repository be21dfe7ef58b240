import { Injectable } from '@nestjs/common';
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
