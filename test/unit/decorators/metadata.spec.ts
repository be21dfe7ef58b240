import { Get, Header, HttpCode, Post, SetMetadata, UseGuards, type CanActivate } from '@nestjs/common';
import { OnEvent } from '@nestjs/event-emitter';
import { MessagePattern } from '@nestjs/microservices';
import { Cron, CronExpression } from '@nestjs/schedule';
import { ApiOperation, ApiResponse } from '@nestjs/swagger';
import { SubscribeMessage } from '@nestjs/websockets';
import fc from 'fast-check';
import {
  CountErrors,
  CountLogin,
  Counted,
  GaugeSource,
  TimeCheckout,
  Timed,
  TrackDbQuery,
  TrackUpload,
  VezaMetric,
} from '../../../src';

// The ESM-to-CJS test transformer cannot compile the two files of @nestjs/swagger's graph that declare
// their own `require` (the UI bundle, the mapped-types helpers); the decorators under test use neither.
jest.mock('../../../node_modules/@nestjs/swagger/dist/swagger-ui/swagger-ui.js', () => ({}));
jest.mock('../../../node_modules/@nestjs/mapped-types/dist/type-helpers.utils.js', () => ({}));

/*
 * Point 2: our decorators stack with each other and with any Nest decorator, in any order; every
 * reflect-metadata key of the method, its name and its length survive.
 */

class Guard implements CanActivate {
  canActivate() {
    return true;
  }
}

const nest: Array<[string, () => MethodDecorator]> = [
  ['Get', () => Get('tracks/:id')],
  ['Post', () => Post('login')],
  ['UseGuards', () => UseGuards(Guard)],
  ['roles', () => SetMetadata('roles', ['admin'])],
  ['HttpCode', () => HttpCode(202)],
  ['Header', () => Header('Cache-Control', 'none')],
  ['OnEvent', () => OnEvent('user.created')],
  ['Cron', () => Cron(CronExpression.EVERY_HOUR, { name: 'hourly' })],
  ['MessagePattern', () => MessagePattern({ cmd: 'sum' })],
  ['SubscribeMessage', () => SubscribeMessage('chat')],
  ['ApiOperation', () => ApiOperation({ summary: 'Log in' })],
  ['ApiResponse', () => ApiResponse({ status: 201, description: 'Created' })],
];
let counter = 0;
const ours: Array<[string, () => MethodDecorator]> = [
  ['CountLogin', () => CountLogin()],
  ['TrackDbQuery', () => TrackDbQuery('select', 'tracks')],
  ['CountErrors', () => CountErrors()],
  ['TimeCheckout', () => TimeCheckout()],
  ['TrackUpload', () => TrackUpload({ type: (kind: string) => kind })],
  ['Counted', () => Counted({ name: `app_metadata_${counter++}_total`, help: 'x' })],
  ['Timed', () => Timed({ name: 'app_metadata_seconds', help: 'x' })],
  ['GaugeSource', () => GaugeSource(VezaMetric.ActiveUsers)],
];

function decorate(stack: Array<() => MethodDecorator>) {
  class Target {
    handle(a: string, b: number): string {
      return `${a}${b}`;
    }
  }
  let descriptor = Object.getOwnPropertyDescriptor(Target.prototype, 'handle') as PropertyDescriptor;
  // As TypeScript applies them: the decorator written last (closest to the method) first.
  for (const make of [...stack].reverse())
    descriptor = (make()(Target.prototype, 'handle', descriptor) as PropertyDescriptor) ?? descriptor;
  Object.defineProperty(Target.prototype, 'handle', descriptor);
  return Target.prototype.handle;
}

const metadataOf = (fn: object) =>
  Object.fromEntries(
    Reflect.getMetadataKeys(fn)
      .map((k) => [String(k), Reflect.getMetadata(k, fn) as unknown])
      .sort(([a], [b]) => String(a).localeCompare(String(b))),
  );

describe('metadata, name and length survive any stack, in any order', () => {
  it('for random subsets and orders of Nest decorators and ours', () => {
    fc.assert(
      fc.property(
        fc.shuffledSubarray(nest, { minLength: 1 }),
        fc.shuffledSubarray(ours, { minLength: 1 }),
        fc.array(fc.nat()),
        (n, o, slots) => {
          // Interleave ours into the Nest stack at random positions.
          const stack = n.map(([, make]) => make);
          o.forEach(([, make], i) => stack.splice((slots[i] ?? 0) % (stack.length + 1), 0, make));
          const plain = decorate(n.map(([, make]) => make));
          const decorated = decorate(stack);
          expect(metadataOf(decorated)).toEqual(metadataOf(plain));
          expect(Object.keys(metadataOf(decorated)).length).toBeGreaterThan(0);
          expect(decorated.name).toBe('handle');
          expect(decorated.length).toBe(2);
          expect(decorated.call({}, 'a', 1)).toBe('a1');
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the trampoline is not a constructor, like the method it replaces', () => {
    const handle = decorate([() => CountLogin()]);
    expect(() => new (handle as unknown as new () => unknown)()).toThrow(TypeError);
    expect(Object.prototype.hasOwnProperty.call(handle, 'prototype')).toBe(false);
  });
});
