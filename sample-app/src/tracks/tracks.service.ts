import { CACHE_MANAGER } from '@nestjs/cache-manager';
import { BadRequestException, Inject, Injectable, NotFoundException } from '@nestjs/common';
import { CountTrackUploaded } from '@veza/nestjs-metrics';
import type { Cache } from 'cache-manager';
import { randomUUID } from 'node:crypto';
import { UploadsService } from '../uploads/uploads.service';
import type { CreateTrackDto } from './dto/create-track.dto';
import type { Track } from './track.entity';
import { TracksRepository } from './tracks.repository';

/** How long a track stays in the cache. */
const TRACK_TTL_MS = 10 * 60_000;

/**
 * The track catalog, read through the cache (cache-aside): `@nestjs/cache-manager`'s in-memory store,
 * whose reads the Veza module counts as hits and misses with no code here.
 */
@Injectable()
export class TracksService {
  constructor(
    private readonly tracks: TracksRepository,
    @Inject(CACHE_MANAGER) private readonly cache: Cache,
    private readonly uploads: UploadsService,
  ) {}

  async list(): Promise<Track[]> {
    return (await this.tracks.findAll()).sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  /** A track by id: from the cache when it is there (a hit), else from the database (a miss; then cached). */
  async findOne(id: string): Promise<Track> {
    const cached = await this.cache.get<Track>(cacheKey(id));
    if (cached) return cached;
    const track = await this.tracks.findById(id);
    if (!track) throw new NotFoundException(`Track ${id} not found`);
    await this.cache.set(cacheKey(id), track, TRACK_TTL_MS);
    return track;
  }

  /** Publishes a track, optionally from one of the owner's audio uploads. */
  @CountTrackUploaded()
  async create(ownerId: string, dto: CreateTrackDto): Promise<Track> {
    if (dto.uploadId !== undefined) {
      const upload = await this.uploads.findOwned(ownerId, dto.uploadId);
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

  async exists(id: string): Promise<boolean> {
    return (await this.tracks.findById(id)) !== undefined;
  }
}

/** The cache's key of a track (the cache's namespace, `tracks`, prefixes it in the store). */
function cacheKey(id: string): string {
  return id;
}
