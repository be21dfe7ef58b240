import { Module } from '@nestjs/common';
import { CartService } from './cart.service';
import { CheckoutService } from './checkout.service';
import { CommerceController } from './commerce.controller';
import { OrdersRepository } from './orders.repository';
import { ProductsService } from './products.service';
import { TransfersRepository } from './transfers.repository';
import { TransfersService } from './transfers.service';

@Module({
  controllers: [CommerceController],
  providers: [
    ProductsService,
    CartService,
    CheckoutService,
    OrdersRepository,
    TransfersService,
    TransfersRepository,
  ],
})
export class CommerceModule {}
