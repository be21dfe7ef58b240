import { BadRequestException, HttpException, HttpStatus, Injectable, UnprocessableEntityException } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import type { CreateUploadDto } from './dto/create-upload.dto';
import type { Upload, UploadFailureReason, UploadFileType } from './upload.entity';
import { fileTypeOf, MAX_FILE_BYTES, refusalOf, USER_QUOTA_BYTES } from './upload-policy';
import { VirusScanner } from './virus-scanner';

/**
 * Stores uploaded files. Every attempt is counted in `veza_file_uploads_total` (status `success` or
 * `failed`) and its size observed; a refused one also counts in `veza_uploads_failed_total` by reason.
 */
@Injectable()
export class UploadsService {
  private readonly uploads: InMemoryTable<Upload>;

  constructor(
    database: DatabaseService,
    private readonly scanner: VirusScanner,
    private readonly metrics: VezaMetricsService,
  ) {
    this.uploads = database.table<Upload>('uploads');
  }

  upload(ownerId: string, dto: CreateUploadDto): Upload {
    const content = Buffer.from(dto.content, 'base64');
    const type = fileTypeOf(dto.mimeType);
    const reason = refusalOf(type, content.length, this.usedBytes(ownerId)) ?? (this.scanner.isInfected(content) ? 'ClamAV' : null);
    if (reason) this.refuse(type, content.length, reason);
    const upload = this.uploads.insert({
      id: randomUUID(),
      ownerId,
      filename: dto.filename,
      mimeType: dto.mimeType.toLowerCase(),
      type,
      sizeBytes: content.length,
      createdAt: new Date().toISOString(),
    });
    this.metrics.recordFileUpload(type, 'success', upload.sizeBytes);
    return upload;
  }

  findOwned(ownerId: string, id: string): Upload | undefined {
    const upload = this.uploads.findById(id);
    return upload?.ownerId === ownerId ? upload : undefined;
  }

  listOwned(ownerId: string): Upload[] {
    return this.uploads.findMany((u) => u.ownerId === ownerId);
  }

  usedBytes(ownerId: string): number {
    return this.listOwned(ownerId).reduce((sum, u) => sum + u.sizeBytes, 0);
  }

  private refuse(type: UploadFileType, sizeBytes: number, reason: UploadFailureReason): never {
    this.metrics.recordFileUpload(type, 'failed', sizeBytes);
    this.metrics.recordUploadFailed(reason);
    switch (reason) {
      case 'validation':
        throw new BadRequestException(`Only audio and image files of 1 byte to ${MAX_FILE_BYTES} bytes are accepted`);
      case 'quota':
        throw new HttpException(`Upload quota of ${USER_QUOTA_BYTES} bytes exceeded`, HttpStatus.PAYLOAD_TOO_LARGE);
      case 'ClamAV':
        throw new UnprocessableEntityException('The file was rejected by the virus scanner');
    }
  }
}
