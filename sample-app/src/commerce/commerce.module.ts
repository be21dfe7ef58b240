import { Module } from '@nestjs/common';
import { CartService } from './cart.service';
import { CheckoutService } from './checkout.service';
import { CommerceController } from './commerce.controller';
import { PaymentProvider } from './payment-provider';
import { ProductsService } from './products.service';
import { TransfersService } from './transfers.service';

@Module({
  controllers: [CommerceController],
  providers: [ProductsService, CartService, CheckoutService, TransfersService, PaymentProvider],
})
export class CommerceModule {}
