import { Injectable, NotFoundException } from '@nestjs/common';
import type { Product } from './commerce.entities';

const PRODUCTS: readonly Product[] = [
  { id: 'license-basic', name: 'Basic track license', priceCents: 999 },
  { id: 'license-premium', name: 'Premium track license', priceCents: 2999 },
  { id: 'sample-pack', name: 'Veza sample pack', priceCents: 1499 },
];

@Injectable()
export class ProductsService {
  list(): readonly Product[] {
    return PRODUCTS;
  }

  get(id: string): Product {
    const product = PRODUCTS.find((p) => p.id === id);
    if (!product) throw new NotFoundException(`Product ${id} not found`);
    return product;
  }
}
