import { Body, Controller, Get, Post, UseGuards } from '@nestjs/common';
import { AuthGuard } from '../auth/auth.guard';
import { CurrentUser } from '../auth/current-user.decorator';
import type { AuthUser } from '../auth/session';
import { CreatePlaylistDto } from './dto/create-playlist.dto';
import type { Playlist } from './playlist.entity';
import { PlaylistsService } from './playlists.service';

@Controller('playlists')
export class PlaylistsController {
  constructor(private readonly playlists: PlaylistsService) {}

  @Get()
  list(): Promise<Playlist[]> {
    return this.playlists.listPublic();
  }

  @Post()
  @UseGuards(AuthGuard)
  create(@CurrentUser() user: AuthUser, @Body() dto: CreatePlaylistDto): Promise<Playlist> {
    return this.playlists.create(user.id, dto);
  }
}
