import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import type { Transfer } from './commerce.entities';
import { PaymentProvider } from './payment-provider';

/** Retries a failed payout gets before it is given up. */
export const MAX_TRANSFER_RETRIES = 3;

/**
 * Payouts to sellers. The first attempt is made when the transfer is created; a failed one is
 * retried (by an operator or a job) up to {@link MAX_TRANSFER_RETRIES} times.
 */
@Injectable()
export class TransfersService {
  private readonly transfers: InMemoryTable<Transfer>;

  constructor(
    database: DatabaseService,
    private readonly payments: PaymentProvider,
    private readonly metrics: VezaMetricsService,
  ) {
    this.transfers = database.table<Transfer>('transfers');
  }

  create(sellerAccount: string, amountCents: number): Transfer {
    const id = randomUUID();
    const paid = this.payments.payout(id, sellerAccount, amountCents);
    return this.transfers.insert({
      id,
      sellerAccount,
      amountCents,
      status: paid ? 'paid' : 'failed',
      retries: 0,
      createdAt: new Date().toISOString(),
    });
  }

  /** One more attempt at a failed transfer; the last allowed failure makes it permanent. */
  retry(id: string): Transfer {
    const transfer = this.transfers.findById(id);
    if (!transfer) throw new NotFoundException(`Transfer ${id} not found`);
    if (transfer.status !== 'failed')
      throw new ConflictException(`Transfer ${id} is ${transfer.status}; only a failed transfer is retried`);
    this.metrics.recordTransferRetry();
    const retries = transfer.retries + 1;
    if (this.payments.payout(id, transfer.sellerAccount, transfer.amountCents)) {
      this.metrics.recordTransferRetrySuccess();
      return this.transfers.update(id, { status: 'paid', retries });
    }
    this.metrics.recordTransferRetryFailure();
    if (retries < MAX_TRANSFER_RETRIES) return this.transfers.update(id, { retries });
    this.metrics.recordTransferRetryPermanent();
    this.metrics.recordError('transfer_permanently_failed', 'critical');
    return this.transfers.update(id, { status: 'permanently_failed', retries });
  }
}
