import {
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  HttpStatus,
  Param,
  Post,
  Sse,
  UseGuards,
  type MessageEvent,
} from '@nestjs/common';
import type { Observable } from 'rxjs';
import { AuthGuard } from '../auth/auth.guard';
import { CurrentUser } from '../auth/current-user.decorator';
import type { AuthUser } from '../auth/session';
import { StartLiveStreamDto } from './dto/start-live-stream.dto';
import type { LiveStream } from './live-stream.entity';
import { LiveStreamsService } from './live-streams.service';

@Controller('live/streams')
export class LiveStreamsController {
  constructor(private readonly streams: LiveStreamsService) {}

  @Get()
  list(): LiveStream[] {
    return this.streams.list();
  }

  @Post()
  @UseGuards(AuthGuard)
  start(@CurrentUser() user: AuthUser, @Body() dto: StartLiveStreamDto): LiveStream {
    return this.streams.start(user.id, dto.title);
  }

  /** Server-sent events: the stream's state, each change of its audience, and `ended`. */
  @Sse(':id/events')
  events(@Param('id') id: string): Observable<MessageEvent> {
    return this.streams.events(id);
  }

  @Post(':id/viewers')
  @HttpCode(HttpStatus.OK)
  join(@Param('id') id: string): LiveStream {
    return this.streams.join(id);
  }

  @Delete(':id/viewers')
  leave(@Param('id') id: string): LiveStream {
    return this.streams.leave(id);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.NO_CONTENT)
  @UseGuards(AuthGuard)
  end(@CurrentUser() user: AuthUser, @Param('id') id: string): void {
    this.streams.end(user.id, id);
  }
}
