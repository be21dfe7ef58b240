import { Injectable } from '@nestjs/common';
import { PaymentsSandbox } from './payments-sandbox';

/**
 * The payment provider's client: charges and payouts are HTTP requests (global `fetch`) to the
 * provider's sandbox ({@link PaymentsSandbox}), which the Veza module counts in
 * veza_http_client_requests_total with no code here. A refusal is an answer, not an exception.
 */
@Injectable()
export class PaymentProvider {
  constructor(private readonly sandbox: PaymentsSandbox) {}

  async charge(token: string, amountCents: number): Promise<'succeeded' | 'declined'> {
    const res = await this.post('/v1/charges', { token, amountCents });
    return res.status === 200 ? 'succeeded' : 'declined';
  }

  /** Whether the payout of `transferId` went through. */
  async payout(transferId: string, account: string, amountCents: number): Promise<boolean> {
    const res = await this.post('/v1/payouts', { transferId, account, amountCents });
    return res.status === 200;
  }

  private async post(path: string, body: unknown): Promise<Response> {
    const res = await fetch(this.sandbox.url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer();
    return res;
  }
}
