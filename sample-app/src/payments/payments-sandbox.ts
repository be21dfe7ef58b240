import { Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * The payment provider's sandbox (Stripe's test mode, in miniature): a plain HTTP server the sample
 * starts itself on a free loopback port, so the sample's payments are real outbound HTTP requests
 * and need no account. Like Stripe's test mode, the outcome is chosen by the test token or account:
 *
 * - `POST /v1/charges` `{ token }`: `tok_visa` is 200 `succeeded`, any other token 402 `declined`;
 * - `POST /v1/payouts` `{ transferId, account }`: `acct_ok` is 200; `acct_flaky` is 503 on the first
 *   attempt of a transfer and 200 after; `acct_closed` is always 400 `account_closed`;
 * - `GET /health`: 200 while {@link PaymentsSandbox.healthy} (a status page the health check reads), 503 otherwise.
 */
@Injectable()
export class PaymentsSandbox implements OnModuleInit, OnModuleDestroy {
  /** What `GET /health` reports; only the status page, charges and payouts are served either way. */
  healthy = true;
  private readonly payoutAttempts = new Map<string, number>();
  private readonly server: Server = createServer((req, res) => {
    this.serve(req, res).catch(() => answer(res, 500, { error: 'sandbox_failed' }));
  });
  private address?: AddressInfo;

  /** `http://127.0.0.1:<port>`, once started. */
  get url(): string {
    if (!this.address) throw new Error('the payments sandbox is not started');
    return `http://127.0.0.1:${this.address.port}`;
  }

  async onModuleInit(): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(0, '127.0.0.1', () => resolve());
    });
    this.address = this.server.address() as AddressInfo;
  }

  async onModuleDestroy(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readJson(req);
    if (req.method === 'GET' && req.url === '/health') {
      answer(res, this.healthy ? 200 : 503, { status: this.healthy ? 'ok' : 'maintenance' });
    } else if (req.method === 'POST' && req.url === '/v1/charges') {
      if (body.token === 'tok_visa') answer(res, 200, { status: 'succeeded' });
      else answer(res, 402, { status: 'declined' });
    } else if (req.method === 'POST' && req.url === '/v1/payouts') {
      const transferId = String(body.transferId);
      const attempt = (this.payoutAttempts.get(transferId) ?? 0) + 1;
      this.payoutAttempts.set(transferId, attempt);
      if (body.account === 'acct_closed') answer(res, 400, { error: 'account_closed' });
      else if (body.account === 'acct_flaky' && attempt === 1) answer(res, 503, { error: 'try_again' });
      else answer(res, 200, { status: 'paid' });
    } else {
      answer(res, 404, { error: 'not_found' });
    }
  }
}

/** The largest request body the sandbox reads; past it, it reads no further and answers as to `{}`. */
const MAX_BODY_BYTES = 16 * 1024;

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY_BYTES) {
      req.destroy();
      return {};
    }
    chunks.push(chunk as Buffer);
  }
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || '{}');
    return typeof parsed === 'object' && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function answer(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
