import { IsInt, IsString, Length, Max, Min } from 'class-validator';

export class AddCartItemDto {
  @IsString()
  @Length(1, 64)
  productId!: string;

  @IsInt()
  @Min(1)
  @Max(100)
  quantity!: number;
}

export class CheckoutDto {
  /** A payment method token from the client (`tok_visa`, `tok_chargeDeclined`, …). */
  @IsString()
  @Length(1, 128)
  paymentToken!: string;
}

export class CreateTransferDto {
  @IsString()
  @Length(1, 64)
  sellerAccount!: string;

  @IsInt()
  @Min(1)
  amountCents!: number;
}
