/**
 * The route table that labels Fastify's answers given before any hook (src/http/adapters/
 * fastify-routes.ts): the template a method and raw path match, by Fastify's preferences, never
 * the raw path.
 */
import { FastifyRouteTable } from '../../src/http/adapters/fastify-routes';

function table(options = {}): FastifyRouteTable {
  const t = new FastifyRouteTable(options);
  t.add(['GET', 'HEAD'], '/api/v1/tracks/:id');
  t.add('GET', '/api/v1/tracks/new');
  t.add('GET', '/api/v1/tracks/:id/plays/:from-:to');
  t.add('GET', '/assets/*');
  t.add('GET', '/api/v1/a::b');
  t.add('POST', '/api/v1/tracks');
  t.add('GET', '/api/v1/:kind/:id');
  return t;
}

describe('FastifyRouteTable', () => {
  it.each([
    ['GET', '/api/v1/tracks/%zz', '/api/v1/tracks/:id'],
    ['HEAD', '/api/v1/tracks/%zz?x=%zz', '/api/v1/tracks/:id'],
    ['GET', '/api/v1/tracks/new', '/api/v1/tracks/new'],
    ['GET', '/api/v1/tracks/n%65w', '/api/v1/tracks/new'],
    ['GET', '/api/v1/tracks/7/plays/%zz-9', '/api/v1/tracks/:id/plays/:from-:to'],
    ['GET', '/assets/%zz/x/y.css', '/assets/*'],
    ['GET', '/api/v1/a:b', '/api/v1/a::b'],
    ['GET', 'http://host:80/api/v1/tracks/%zz', '/api/v1/tracks/:id'],
    ['GET', '/api/v1/albums/%zz', '/api/v1/:kind/:id'],
    ['POST', '/api/v1/tracks', '/api/v1/tracks'],
  ])('%s %s is %s', (method, url, template) => {
    expect(table().match(method, url)).toBe(template);
  });

  it.each([
    ['DELETE', '/api/v1/tracks/1'],
    ['GET', '/api/v1/tracks/'],
    ['GET', '/nope/%zz'],
    ['GET', '/%zz'],
    ['GET', '*'],
    ['GET', '/API/V1/TRACKS/new'],
    ['GET', '/api/v1/tracks/1/'],
  ])('%s %s matches no route', (method, url) => {
    expect(table().match(method, url)).toBeUndefined();
  });

  it('matches a parameter of any length', () => {
    expect(table().match('GET', `/api/v1/tracks/${'a'.repeat(5_000)}`)).toBe('/api/v1/tracks/:id');
  });

  it("follows the router's options: case, trailing and duplicate slashes", () => {
    const t = table({ caseSensitive: false, ignoreTrailingSlash: true, ignoreDuplicateSlashes: true });
    expect(t.match('GET', '/API/V1/TRACKS/NEW')).toBe('/api/v1/tracks/new');
    expect(t.match('GET', '/api/v1/tracks/1/')).toBe('/api/v1/tracks/:id');
    expect(t.match('GET', '//api//v1/tracks/1')).toBe('/api/v1/tracks/:id');
  });

  it('gives no template when two different ones tie', () => {
    const t = new FastifyRouteTable();
    t.add('GET', '/a/:x');
    t.add('GET', '/a/:y(^\\d+$)');
    expect(t.match('GET', '/a/%zz')).toBeUndefined();
    // The same template twice (two versions of one route): that template.
    t.add('GET', '/b/:x');
    t.add('GET', '/b/:x');
    expect(t.match('GET', '/b/%zz')).toBe('/b/:x');
  });
});
