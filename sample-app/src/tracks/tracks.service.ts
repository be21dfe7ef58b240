import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { CountCacheLookup, CountTrackUploaded } from '@veza/nestjs-metrics';
import { randomUUID } from 'node:crypto';
import { CacheService } from '../cache/cache.service';
import { UploadsService } from '../uploads/uploads.service';
import type { CreateTrackDto } from './dto/create-track.dto';
import type { Track } from './track.entity';
import { TracksRepository } from './tracks.repository';

/** The track catalog, read through the cache (cache-aside). */
@Injectable()
export class TracksService {
  constructor(
    private readonly tracks: TracksRepository,
    private readonly cache: CacheService,
    private readonly uploads: UploadsService,
  ) {}

  list(): Track[] {
    return this.tracks.findAll().sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** A track by id: from the cache when it is there, else from the database (then cached). */
  findOne(id: string): Track {
    const cached = this.cached(id);
    if (cached) return cached;
    const track = this.tracks.findById(id);
    if (!track) throw new NotFoundException(`Track ${id} not found`);
    this.cache.set('tracks', id, track);
    return track;
  }

  /** Publishes a track, optionally from one of the owner's audio uploads. */
  @CountTrackUploaded()
  create(ownerId: string, dto: CreateTrackDto): Track {
    if (dto.uploadId !== undefined) {
      const upload = this.uploads.findOwned(ownerId, dto.uploadId);
      if (!upload || upload.type !== 'audio')
        throw new BadRequestException(`Upload ${dto.uploadId} is not an audio file of yours`);
    }
    return this.tracks.insert({
      id: randomUUID(),
      title: dto.title,
      artist: dto.artist,
      durationSeconds: dto.durationSeconds,
      ownerId,
      ...(dto.uploadId !== undefined ? { uploadId: dto.uploadId } : {}),
      createdAt: new Date().toISOString(),
    });
  }

  exists(id: string): boolean {
    return this.tracks.findById(id) !== undefined;
  }

  /** A lookup in the tracks cache: a hit when it holds the track, a miss otherwise. */
  @CountCacheLookup('tracks')
  private cached(id: string): Track | undefined {
    return this.cache.get<Track>('tracks', id);
  }
}
