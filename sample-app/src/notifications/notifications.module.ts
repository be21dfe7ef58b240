import { Module } from '@nestjs/common';
import { ClientProxyFactory, Transport } from '@nestjs/microservices';
import { NOTIFICATIONS_PROXY, NotificationsClient } from './notifications.client';
import { notificationsHost, notificationsPort } from './notifications.constants';
import { NotificationsController } from './notifications.controller';

/**
 * The notifications microservice's handler and the client the app's services call. The app serves
 * the handler once it connects the TCP microservice (`main.ts`: `app.connectMicroservice(...)`).
 */
@Module({
  controllers: [NotificationsController],
  providers: [
    {
      provide: NOTIFICATIONS_PROXY,
      useFactory: () =>
        ClientProxyFactory.create({
          transport: Transport.TCP,
          options: { host: notificationsHost(), port: notificationsPort() },
        }),
    },
    NotificationsClient,
  ],
  exports: [NotificationsClient],
})
export class NotificationsModule {}
