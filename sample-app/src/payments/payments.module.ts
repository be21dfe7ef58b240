import { Global, Module } from '@nestjs/common';
import { PaymentProvider } from './payment-provider';
import { PaymentsSandbox } from './payments-sandbox';

/** The payment provider: its client, and the sandbox it talks to (started with the app). */
@Global()
@Module({ providers: [PaymentsSandbox, PaymentProvider], exports: [PaymentsSandbox, PaymentProvider] })
export class PaymentsModule {}
