import { Injectable } from '@nestjs/common';

/**
 * Stands in for the payment provider (Stripe). Like Stripe's test mode, the outcome is chosen by
 * the test token or account: `tok_visa` pays, `tok_chargeDeclined` is declined; payouts to
 * `acct_ok` succeed, to `acct_flaky` fail on the first attempt only, to `acct_closed` always fail.
 */
@Injectable()
export class PaymentProvider {
  private readonly payoutAttempts = new Map<string, number>();

  charge(token: string, _amountCents: number): 'succeeded' | 'declined' {
    return token === 'tok_visa' ? 'succeeded' : 'declined';
  }

  payout(transferId: string, account: string, _amountCents: number): boolean {
    const attempt = (this.payoutAttempts.get(transferId) ?? 0) + 1;
    this.payoutAttempts.set(transferId, attempt);
    if (account === 'acct_closed') return false;
    if (account === 'acct_flaky') return attempt > 1;
    return true;
  }
}
