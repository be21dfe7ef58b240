import {
  Body,
  Controller,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  ParseUUIDPipe,
  Post,
  UseGuards,
} from '@nestjs/common';
import { AuthGuard } from '../auth/auth.guard';
import { CurrentUser } from '../auth/current-user.decorator';
import type { AuthUser } from '../auth/session';
import { CartService } from './cart.service';
import { CheckoutService } from './checkout.service';
import type { CartItem, Order, Product, Transfer } from './commerce.entities';
import { AddCartItemDto, CheckoutDto, CreateTransferDto } from './dto/commerce.dto';
import { ProductsService } from './products.service';
import { TransfersService } from './transfers.service';

@Controller('commerce')
export class CommerceController {
  constructor(
    private readonly products: ProductsService,
    private readonly cart: CartService,
    private readonly checkoutService: CheckoutService,
    private readonly transfers: TransfersService,
  ) {}

  @Get('products')
  listProducts(): readonly Product[] {
    return this.products.list();
  }

  @Get('cart')
  @UseGuards(AuthGuard)
  getCart(@CurrentUser() user: AuthUser): readonly CartItem[] {
    return this.cart.items(user.id);
  }

  @Post('cart/items')
  @UseGuards(AuthGuard)
  addToCart(@CurrentUser() user: AuthUser, @Body() dto: AddCartItemDto): readonly CartItem[] {
    return this.cart.add(user.id, dto.productId, dto.quantity);
  }

  @Post('checkout')
  @UseGuards(AuthGuard)
  checkout(@CurrentUser() user: AuthUser, @Body() dto: CheckoutDto): Promise<Order> {
    return this.checkoutService.checkout(user.id, dto.paymentToken);
  }

  @Get('orders')
  @UseGuards(AuthGuard)
  orders(@CurrentUser() user: AuthUser): Promise<Order[]> {
    return this.checkoutService.ordersOf(user.id);
  }

  // Operator endpoints (a payout job calls them in production).
  @Post('transfers')
  @UseGuards(AuthGuard)
  createTransfer(@Body() dto: CreateTransferDto): Promise<Transfer> {
    return this.transfers.create(dto.sellerAccount, dto.amountCents);
  }

  @Post('transfers/:id/retry')
  @HttpCode(HttpStatus.OK)
  @UseGuards(AuthGuard)
  retryTransfer(@Param('id', new ParseUUIDPipe()) id: string): Promise<Transfer> {
    return this.transfers.retry(id);
  }
}
