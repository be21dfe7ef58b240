import { Module } from '@nestjs/common';
import { NotificationsModule } from '../notifications/notifications.module';
import { TracksModule } from '../tracks/tracks.module';
import { PlaylistsController } from './playlists.controller';
import { PlaylistsRepository } from './playlists.repository';
import { PlaylistsService } from './playlists.service';

@Module({
  imports: [TracksModule, NotificationsModule],
  controllers: [PlaylistsController],
  providers: [PlaylistsService, PlaylistsRepository],
  exports: [PlaylistsService],
})
export class PlaylistsModule {}
