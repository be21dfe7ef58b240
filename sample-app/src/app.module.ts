import { CacheModule, type CacheModuleOptions } from '@nestjs/cache-manager';
import { Module, ValidationPipe, type DynamicModule } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { VezaMetricsModule } from '@veza/nestjs-metrics';
import Keyv from 'keyv';
import { AuthModule } from './auth/auth.module';
import { CatalogGraphqlModule } from './catalog-graphql/catalog-graphql.module';
import { CommerceModule } from './commerce/commerce.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { LiveModule } from './live/live.module';
import { NotificationsModule } from './notifications/notifications.module';
import { PaymentsModule } from './payments/payments.module';
import { PlaylistsModule } from './playlists/playlists.module';
import { RealtimeModule } from './realtime/realtime.module';
import { TracksModule } from './tracks/tracks.module';
import { TranscodeQueueModule } from './transcoding/transcoding.module';
import { UploadsModule } from './uploads/uploads.module';

/**
 * The tracks cache of @nestjs/cache-manager: an in-memory Keyv whose namespace names the cache in
 * the metrics (`subsystem="tracks"`). keyv's CommonJS typings are not the ESM ones
 * @nestjs/cache-manager is typed against, hence the cast.
 */
function tracksCacheStore(): CacheModuleOptions['stores'] {
  return [new Keyv({ namespace: 'tracks' })] as unknown as CacheModuleOptions['stores'];
}

/** What changes between runs of the sample app. */
export interface SampleAppOptions {
  /** The Redis of the transcoding queue (`redis://host:port`); without it uploads are not transcoded. */
  redisUrl?: string;
}

/**
 * A small Veza: music streaming and a marketplace, with the Veza metrics: TypeORM on sql.js (an
 * embedded SQLite), @nestjs/cache-manager in memory, @nestjs/terminus health checks and a payment
 * provider's sandbox over HTTP, all measured with no decorator; the catalog over GraphQL and the
 * notifications microservice's handler. Imported as is, it has no
 * transcoding queue (no Redis needed); {@link AppModule.forRoot} with a `redisUrl` adds it.
 */
@Module({
  imports: [
    // Native histograms: served over protobuf to a Prometheus that asks for them; the text exposition is unchanged.
    // Three scrapes at once: a classic and a native Prometheus on one host (one client address, which
    // gets maxConcurrent - 1 of them) must never refuse each other.
    VezaMetricsModule.forRoot({
      defaultLabels: { service: 'veza-api' },
      nativeHistograms: true,
      scrape: { maxConcurrent: 3 },
    }),
    DatabaseModule,
    CacheModule.register({ isGlobal: true, stores: tracksCacheStore() }),
    PaymentsModule,
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
