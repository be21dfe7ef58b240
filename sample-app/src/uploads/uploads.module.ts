import { Module } from '@nestjs/common';
import { TranscodingModule } from '../transcoding/transcoding.module';
import { UploadsController } from './uploads.controller';
import { UploadsRepository } from './uploads.repository';
import { UploadsService } from './uploads.service';
import { VirusScanner } from './virus-scanner';

@Module({
  imports: [TranscodingModule],
  controllers: [UploadsController],
  providers: [UploadsService, UploadsRepository, VirusScanner],
  exports: [UploadsService],
})
export class UploadsModule {}
