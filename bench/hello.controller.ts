import { Controller, Get } from '@nestjs/common';

/** The HTTP benchmarks' one trivial route: `GET /` answers `{ "hello": "world" }`. */
@Controller()
export class HelloController {
  @Get()
  hello(): { hello: string } {
    return { hello: 'world' };
  }
}
