import { Module, ValidationPipe } from '@nestjs/common';
import { APP_PIPE } from '@nestjs/core';
import { VezaMetricsModule } from '@veza/nestjs-metrics';
import { AuthModule } from './auth/auth.module';
import { CacheModule } from './cache/cache.module';
import { CommerceModule } from './commerce/commerce.module';
import { DatabaseModule } from './database/database.module';
import { HealthModule } from './health/health.module';
import { LiveModule } from './live/live.module';
import { PlaylistsModule } from './playlists/playlists.module';
import { RealtimeModule } from './realtime/realtime.module';
import { TracksModule } from './tracks/tracks.module';
import { UploadsModule } from './uploads/uploads.module';

/** A small Veza: music streaming and a marketplace, on in-memory stores, with the Veza metrics. */
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
  ],
  providers: [
    {
      provide: APP_PIPE,
      useValue: new ValidationPipe({ whitelist: true, forbidNonWhitelisted: true, transform: true }),
    },
  ],
})
export class AppModule {}
