import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { VezaMetricsService } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { CacheService } from '../cache/cache.service';
import { DatabaseService } from '../database/database.service';
import type { InMemoryTable } from '../database/in-memory-table';
import { UploadsService } from '../uploads/uploads.service';
import type { CreateTrackDto } from './dto/create-track.dto';
import type { Track } from './track.entity';

/** The track catalog, read through the cache (cache-aside). */
@Injectable()
export class TracksService {
  private readonly tracks: InMemoryTable<Track>;

  constructor(
    database: DatabaseService,
    private readonly cache: CacheService,
    private readonly uploads: UploadsService,
    private readonly metrics: VezaMetricsService,
  ) {
    this.tracks = database.table<Track>('tracks');
  }

  list(): Track[] {
    return this.tracks.findMany().sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** A track by id: from the cache when it is there, else from the database (then cached). */
  findOne(id: string): Track {
    const cached = this.cache.get<Track>('tracks', id);
    if (cached) return cached;
    const track = this.tracks.findById(id);
    if (!track) throw new NotFoundException(`Track ${id} not found`);
    this.cache.set('tracks', id, track);
    return track;
  }

  /** Publishes a track, optionally from one of the owner's audio uploads. */
  create(ownerId: string, dto: CreateTrackDto): Track {
    if (dto.uploadId !== undefined) {
      const upload = this.uploads.findOwned(ownerId, dto.uploadId);
      if (!upload || upload.type !== 'audio') throw new BadRequestException(`Upload ${dto.uploadId} is not an audio file of yours`);
    }
    const track = this.tracks.insert({
      id: randomUUID(),
      title: dto.title,
      artist: dto.artist,
      durationSeconds: dto.durationSeconds,
      ownerId,
      ...(dto.uploadId !== undefined ? { uploadId: dto.uploadId } : {}),
      createdAt: new Date().toISOString(),
    });
    this.metrics.recordTrackUploaded();
    return track;
  }

  exists(id: string): boolean {
    return this.tracks.findById(id) !== undefined;
  }
}
