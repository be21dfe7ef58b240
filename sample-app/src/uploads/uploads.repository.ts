import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { UploadEntity } from '../database/entities';
import type { Upload } from './upload.entity';

/** The `uploads` table: each method is one query. */
@Injectable()
export class UploadsRepository {
  constructor(@InjectRepository(UploadEntity) private readonly table: Repository<Upload>) {}

  async insert(upload: Upload): Promise<Upload> {
    await this.table.insert(upload);
    return upload;
  }

  async findById(id: string): Promise<Upload | undefined> {
    return (await this.table.findOneBy({ id })) ?? undefined;
  }

  findByOwner(ownerId: string): Promise<Upload[]> {
    return this.table.findBy({ ownerId });
  }
}
