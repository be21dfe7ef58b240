import { Body, Controller, Get, Param, Post, UseGuards } from '@nestjs/common';
import { AuthGuard } from '../auth/auth.guard';
import { CurrentUser } from '../auth/current-user.decorator';
import type { AuthUser } from '../auth/session';
import { CreateTrackDto } from './dto/create-track.dto';
import type { Track } from './track.entity';
import { TracksService } from './tracks.service';

@Controller('tracks')
export class TracksController {
  constructor(private readonly tracks: TracksService) {}

  @Get()
  list(): Promise<Track[]> {
    return this.tracks.list();
  }

  @Get(':id')
  findOne(@Param('id') id: string): Promise<Track> {
    return this.tracks.findOne(id);
  }

  @Post()
  @UseGuards(AuthGuard)
  create(@CurrentUser() user: AuthUser, @Body() dto: CreateTrackDto): Promise<Track> {
    return this.tracks.create(user.id, dto);
  }
}
