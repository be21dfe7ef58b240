import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { CountErrors, TrackTransferRetry } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import type { Transfer } from './commerce.entities';
import { PaymentProvider } from '../payments/payment-provider';
import { TransfersRepository } from './transfers.repository';

/** Retries a failed payout gets before it is given up. */
export const MAX_TRANSFER_RETRIES = 3;

/** The last allowed retry failed too: the transfer, stored as `permanently_failed`, is given up. */
export class TransferGivenUpError extends Error {
  constructor(readonly transfer: Transfer) {
    super(`Transfer ${transfer.id} failed ${transfer.retries} retries and is given up`);
    this.name = 'TransferGivenUpError';
  }
}

const givenUp = (error: unknown): boolean => error instanceof TransferGivenUpError;

/**
 * Payouts to sellers. The first attempt is made when the transfer is created; a failed one is
 * retried (by an operator or a job) up to {@link MAX_TRANSFER_RETRIES} times.
 */
@Injectable()
export class TransfersService {
  constructor(
    private readonly transfers: TransfersRepository,
    private readonly payments: PaymentProvider,
  ) {}

  async create(sellerAccount: string, amountCents: number): Promise<Transfer> {
    const id = randomUUID();
    const paid = await this.payments.payout(id, sellerAccount, amountCents);
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
  async retry(id: string): Promise<Transfer> {
    const transfer = await this.transfers.findById(id);
    if (!transfer) throw new NotFoundException(`Transfer ${id} not found`);
    if (transfer.status !== 'failed')
      throw new ConflictException(`Transfer ${id} is ${transfer.status}; only a failed transfer is retried`);
    try {
      return await this.attempt(transfer);
    } catch (error) {
      if (error instanceof TransferGivenUpError) return error.transfer;
      throw error;
    }
  }

  /**
   * One retry attempt: the transfer comes back `paid` (a successful retry) or still `failed` (a
   * failed one); the last allowed failure throws {@link TransferGivenUpError} (a permanent failure,
   * and a critical error).
   */
  @TrackTransferRetry<Transfer>({ isSuccess: (transfer) => transfer.status === 'paid', isPermanent: givenUp })
  @CountErrors({
    type: (error) => (givenUp(error) ? 'transfer_permanently_failed' : 'transfer_retry_failed'),
    severity: 'critical',
  })
  private async attempt(transfer: Transfer): Promise<Transfer> {
    const retries = transfer.retries + 1;
    if (await this.payments.payout(transfer.id, transfer.sellerAccount, transfer.amountCents))
      return this.transfers.update(transfer, { status: 'paid', retries });
    if (retries < MAX_TRANSFER_RETRIES) return this.transfers.update(transfer, { retries });
    throw new TransferGivenUpError(
      await this.transfers.update(transfer, { status: 'permanently_failed', retries }),
    );
  }
}
