import { Global, Module } from '@nestjs/common';
import { UsersModule } from '../users/users.module';
import { AuthController } from './auth.controller';
import { AuthGuard } from './auth.guard';
import { AuthService } from './auth.service';
import { LoginThrottleGuard } from './login-throttle.guard';
import { LoginThrottleService } from './login-throttle.service';
import { SessionsService } from './sessions.service';

/** Global so that every feature module can guard its routes with `AuthGuard`. */
@Global()
@Module({
  imports: [UsersModule],
  controllers: [AuthController],
  providers: [AuthService, SessionsService, LoginThrottleService, LoginThrottleGuard, AuthGuard],
  exports: [AuthGuard, SessionsService, UsersModule],
})
export class AuthModule {}
