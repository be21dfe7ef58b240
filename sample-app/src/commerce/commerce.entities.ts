/** Something on sale in the Veza marketplace: a track license or a sample pack. */
export interface Product {
  readonly id: string;
  readonly name: string;
  readonly priceCents: number;
}

export interface CartItem {
  readonly productId: string;
  readonly quantity: number;
}

/** The `status` label of `veza_commerce_orders_total`. */
export type OrderStatus = 'completed' | 'failed';

export interface Order {
  readonly id: string;
  readonly userId: string;
  readonly items: readonly CartItem[];
  readonly totalCents: number;
  readonly status: OrderStatus;
  readonly createdAt: string;
}

export type TransferStatus = 'paid' | 'failed' | 'permanently_failed';

/** A payout to a seller's account, retried until it succeeds or runs out of attempts. */
export interface Transfer {
  readonly id: string;
  readonly sellerAccount: string;
  readonly amountCents: number;
  readonly status: TransferStatus;
  /** Retries made so far (the first attempt is not a retry). */
  readonly retries: number;
  readonly createdAt: string;
}
