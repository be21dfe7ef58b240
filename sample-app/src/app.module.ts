import { Module, ValidationPipe, type DynamicModule } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { VezaMetricsModule } from '@veza/nestjs-metrics';
import { AuthModule } from './auth/auth.module';
import { CatalogGraphqlModule } from './catalog-graphql/catalog-graphql.module';
import { CacheModule } from './cache/cache.module';
import { CommerceModule } from './commerce/commerce.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { LiveModule } from './live/live.module';
import { NotificationsModule } from './notifications/notifications.module';
import { PlaylistsModule } from './playlists/playlists.module';
import { RealtimeModule } from './realtime/realtime.module';
import { TracksModule } from './tracks/tracks.module';
import { TranscodeQueueModule } from './transcoding/transcoding.module';
import { UploadsModule } from './uploads/uploads.module';

/** What changes between runs of the sample app. */
export interface SampleAppOptions {
  /** The Redis of the transcoding queue (`redis://host:port`); without it uploads are not transcoded. */
  redisUrl?: string;
}

/**
 * A small Veza: music streaming and a marketplace, on in-memory stores, with the Veza metrics; the
 * catalog over GraphQL and the notifications microservice's handler. Imported as is, it has no
 * transcoding queue (no Redis needed); {@link AppModule.forRoot} with a `redisUrl` adds it.
 */
@Module({
  imports: [
    VezaMetricsModule.forRoot({ defaultLabels: { service: 'veza-api' } }),
    DatabaseModule,
    CacheModule,
    AuthModule,
    UploadsModule,
    TracksModule,
    PlaylistsModule,
    CommerceModule,
    LiveModule,
    HealthModule,
    RealtimeModule,
    NotificationsModule,
    CatalogGraphqlModule,
  ],
  providers: [
    {
      provide: APP_PIPE,
      useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    },
  ],
})
export class AppModule {
  static forRoot(options: SampleAppOptions = {}): DynamicModule {
    return {
      module: AppModule,
      imports: options.redisUrl ? [TranscodeQueueModule.forRoot(options.redisUrl)] : [],
    };
  }
}
