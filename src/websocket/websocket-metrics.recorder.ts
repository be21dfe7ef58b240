import { Injectable, Logger } from '@nestjs/common';
import { ApplicationConfig, ModulesContainer } from '@nestjs/core';
import { nestCoreVersion, onIoAdapter } from '../compat/nest-core';
import { nestWebsocketsVersion } from '../compat/nest-websockets';
import { appUsesPeer } from '../compat/optional-peers';
import type { GaugeMetric as Gauge } from '../compat/client-types';
import { VezaMetric } from '../catalog/catalog';
import { CounterCell } from '../http/metric-cells';
import { VezaMetricsRegistry } from '../registry/veza-metrics.registry';
import { recordingFailed, wsConnectionsNotCounted, wsMessagesNotCounted } from '../veza-metrics.messages';
import { observeGatewayMessages, WS_MESSAGE_SINK, type WsMessageSink } from './message-outcomes';

/** The part of a Nest WebSocket adapter (`IoAdapter`, `WsAdapter`, or any other) the recorder uses. */
interface WsAdapterLike {
  bindClientConnect(server: unknown, callback: (...args: unknown[]) => unknown): unknown;
  bindClientDisconnect?(client: unknown, callback: (...args: unknown[]) => unknown): unknown;
}

type Client = { [WS_MESSAGE_SINK]?: WsMessageSink };

/**
 * Records the application's WebSocket gateways with no code in them, on any Nest WebSocket adapter
 * (Socket.IO, ws): `veza_websocket_connections_active` goes up as a client connects to a gateway
 * and down as it disconnects, and each message a `@SubscribeMessage()` handler takes counts once in
 * `veza_websocket_messages_total{type = event name, status = success | error}`.
 *
 * The adapter is the one the application configured (`app.useWebSocketAdapter()`) or the default
 * one Nest creates: this application's `ApplicationConfig` hands it out, and hands it out wrapped.
 * Without `@nestjs/websockets` installed, or without a gateway in the application (P3 of
 * src/compat/optional-peers.ts), nothing is hooked and nothing is required.
 */
@Injectable()
export class WebSocketMetricsRecorder implements WsMessageSink {
  private readonly logger = new Logger('VezaMetrics');
  private readonly connections: Gauge;
  private readonly cells = new Map<
    string,
    [CounterCell<'type' | 'status'>, CounterCell<'type' | 'status'>]
  >();
  private readonly instrumented = new WeakSet<object>();
  private failed = false;

  constructor(
    private readonly metrics: VezaMetricsRegistry,
    config: ApplicationConfig,
    modules: ModulesContainer,
  ) {
    this.connections = metrics.get(VezaMetric.WebSocketConnectionsActive);
    // Built before Nest connects gateways, with every provider of the app already in its container.
    if (!appUsesPeer(modules, 'websockets')) return;
    const messages = observeGatewayMessages();
    if (messages === 'absent') return;
    if (messages === 'changed') this.logger.warn(wsMessagesNotCounted(nestWebsocketsVersion()));
    // Nest reads the adapter from the config when it connects gateways, after providers are built.
    if (!onIoAdapter(config, (adapter) => this.instrument(adapter as WsAdapterLike)))
      this.logger.warn(wsConnectionsNotCounted(nestCoreVersion()));
  }

  /** Counts one message of `event` handled with success or error. */
  message(event: string, ok: boolean): void {
    try {
      let pair = this.cells.get(event);
      if (!pair) {
        const messages = this.metrics.get(VezaMetric.WebSocketMessages);
        pair = [
          new CounterCell(messages, { type: event, status: 'success' }),
          new CounterCell(messages, { type: event, status: 'error' }),
        ];
        this.cells.set(event, pair);
      }
      pair[ok ? 0 : 1].inc();
    } catch (error) {
      this.fail(error);
    }
  }

  private instrument(adapter: WsAdapterLike): void {
    if (this.instrumented.has(adapter)) return;
    this.instrumented.add(adapter);
    const connected = (client: unknown): void => this.connected(adapter, client);
    const bindClientConnect = adapter.bindClientConnect.bind(adapter);
    adapter.bindClientConnect = (server, callback) =>
      bindClientConnect(server, function (this: unknown, ...args: unknown[]) {
        connected(args[0]);
        return callback.apply(this, args);
      });
  }

  /** A client connected to a gateway (counted once, even when several gateways share its server). */
  private connected(adapter: WsAdapterLike, client: unknown): void {
    if (typeof client !== 'object' || client === null || (client as Client)[WS_MESSAGE_SINK] === this) return;
    try {
      (client as Client)[WS_MESSAGE_SINK] = this;
      this.connections.inc();
      let open = true;
      adapter.bindClientDisconnect?.(client, () => {
        if (!open) return;
        open = false;
        this.connections.dec();
      });
    } catch (error) {
      this.fail(error);
    }
  }

  private fail(error: unknown): void {
    if (this.failed) return;
    this.failed = true;
    this.logger.warn(recordingFailed('the WebSocket recorder', error));
  }
}
