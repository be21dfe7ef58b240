import { Body, Controller, Get, Post, UseGuards } from '@nestjs/common';
import { AuthGuard } from '../auth/auth.guard';
import { CurrentUser } from '../auth/current-user.decorator';
import type { AuthUser } from '../auth/session';
import { CreateUploadDto } from './dto/create-upload.dto';
import type { Upload } from './upload.entity';
import { UploadsService } from './uploads.service';

@Controller('uploads')
@UseGuards(AuthGuard)
export class UploadsController {
  constructor(private readonly uploads: UploadsService) {}

  @Post()
  upload(@CurrentUser() user: AuthUser, @Body() dto: CreateUploadDto): Promise<Upload> {
    return this.uploads.upload(user.id, dto);
  }

  @Get()
  list(@CurrentUser() user: AuthUser): Promise<Upload[]> {
    return this.uploads.listOwned(user.id);
  }
}
