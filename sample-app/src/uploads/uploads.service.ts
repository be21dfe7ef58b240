import {
  BadRequestException,
  HttpException,
  HttpStatus,
  Injectable,
  UnprocessableEntityException,
} from '@nestjs/common';
import { TrackUpload } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import type { CreateUploadDto } from './dto/create-upload.dto';
import type { Upload, UploadFailureReason } from './upload.entity';
import { TranscodeJobs } from '../transcoding/transcode-jobs.service';
import { fileTypeOf, MAX_FILE_BYTES, refusalOf, USER_QUOTA_BYTES } from './upload-policy';
import { UploadsRepository } from './uploads.repository';
import { VirusScanner } from './virus-scanner';

/** The virus scanner found something in the file: a 422, and `reason="ClamAV"` in `veza_uploads_failed_total`. */
export class InfectedFileException extends UnprocessableEntityException {
  readonly reason = 'ClamAV';

  constructor() {
    super('The file was rejected by the virus scanner');
  }
}

/**
 * Stores uploaded files. `@TrackUpload` counts every attempt in `veza_file_uploads_total` by type
 * (`success`, or `failure` when it throws) and observes the size of a stored file; a refusal also
 * counts in `veza_uploads_failed_total` by reason: a 400 is `validation`, a 413 `quota`, an
 * {@link InfectedFileException} `ClamAV`.
 */
@Injectable()
export class UploadsService {
  constructor(
    private readonly uploads: UploadsRepository,
    private readonly scanner: VirusScanner,
    private readonly transcoding: TranscodeJobs,
  ) {}

  @TrackUpload<[string, CreateUploadDto], Upload>({
    type: (_ownerId, dto) => fileTypeOf(dto.mimeType),
    size: ({ result }) => result.sizeBytes,
  })
  async upload(ownerId: string, dto: CreateUploadDto): Promise<Upload> {
    const content = Buffer.from(dto.content, 'base64');
    const type = fileTypeOf(dto.mimeType);
    const reason =
      refusalOf(type, content.length, await this.usedBytes(ownerId)) ??
      (this.scanner.isInfected(content) ? 'ClamAV' : null);
    if (reason) refuse(reason);
    const upload = await this.uploads.insert({
      id: randomUUID(),
      ownerId,
      filename: dto.filename,
      mimeType: dto.mimeType.toLowerCase(),
      type,
      sizeBytes: content.length,
      createdAt: new Date().toISOString(),
    });
    // An audio upload is transcoded by the worker (when the app runs with Redis), in the background.
    this.transcoding.enqueue(upload);
    return upload;
  }

  async findOwned(ownerId: string, id: string): Promise<Upload | undefined> {
    const upload = await this.uploads.findById(id);
    return upload?.ownerId === ownerId ? upload : undefined;
  }

  listOwned(ownerId: string): Promise<Upload[]> {
    return this.uploads.findByOwner(ownerId);
  }

  async usedBytes(ownerId: string): Promise<number> {
    return (await this.listOwned(ownerId)).reduce((sum, u) => sum + u.sizeBytes, 0);
  }
}

function refuse(reason: UploadFailureReason): never {
  switch (reason) {
    case 'validation':
      throw new BadRequestException(
        `Only audio and image files of 1 byte to ${MAX_FILE_BYTES} bytes are accepted`,
      );
    case 'quota':
      throw new HttpException(
        `Upload quota of ${USER_QUOTA_BYTES} bytes exceeded`,
        HttpStatus.PAYLOAD_TOO_LARGE,
      );
    case 'ClamAV':
      throw new InfectedFileException();
  }
}
