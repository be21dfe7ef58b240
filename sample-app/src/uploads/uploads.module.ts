import { Module } from '@nestjs/common';
import { UploadsController } from './uploads.controller';
import { UploadsService } from './uploads.service';
import { VirusScanner } from './virus-scanner';

@Module({
  controllers: [UploadsController],
  providers: [UploadsService, VirusScanner],
  exports: [UploadsService],
})
export class UploadsModule {}
