/** Placing a large table's routes into nested stacks (lib/construct/route-stacks.ts): together by family, stable as it grows. */
import { describe, expect, it } from 'vitest';
import { largeAppRouteTable } from '../../bench/fixtures';
import {
  apiGatewayResourceCount,
  inlineSize,
  placeRoutes,
  stackName,
  type PlacedRoute,
  type RoutePlacement,
} from '../../lib/construct/route-stacks';

const table = (count: number): PlacedRoute[] =>
  largeAppRouteTable(count, { scopeCount: 10, functionCount: 1 }).map(({ method, path }) => ({ method, path }));
const stackOf = (placement: RoutePlacement<PlacedRoute>) => {
  const where = new Map<string, string>();
  for (const [name, units] of placement.stacks)
    for (const unit of units) for (const route of unit.routes) where.set(`${route.method} ${route.path}`, name);
  return where;
};

describe('placeRoutes', () => {
  it('puts every route of a family into one stack, and every stack within its capacity', () => {
    const placement = placeRoutes(table(1000));
    expect(placement.inline).toEqual([]);
    const families = new Map<string, Set<string>>();
    for (const [route, stack] of stackOf(placement)) {
      const family = route.split(' ')[1]!.split('/')[1]!;
      families.set(family, new Set([...(families.get(family) ?? []), stack]));
    }
    expect(families.size).toBe(100);
    expect([...families.values()].every((stacks) => stacks.size === 1)).toBe(true);
    for (const units of placement.stacks.values()) expect(units.reduce((sum, unit) => sum + unit.size, 0)).toBeLessThanOrEqual(400);
  });

  it('places the same table the same way whatever the order of its routes', () => {
    const routes = table(300);
    expect(stackOf(placeRoutes([...routes].reverse()))).toEqual(stackOf(placeRoutes(routes)));
  });

  it('leaves every other route where it was when a route is added to one family', () => {
    const before = stackOf(placeRoutes(table(300)));
    const after = stackOf(placeRoutes([...table(300), { method: 'GET', path: '/svc3/{id}/history' }]));
    for (const [route, stack] of before) expect([route, after.get(route)]).toEqual([route, stack]);
    expect(after.get('GET /svc3/{id}/history')).toBe(before.get('GET /svc3'));
  });

  it('splits only the stack that overflows, moving none of the other stacks’ families', () => {
    const routes = table(300);
    const capacity = 150;
    const before = placeRoutes(routes, capacity);
    const beforeWhere = stackOf(before);
    // Grow one family until its stack passes the capacity.
    const grown = [...routes, ...Array.from({ length: 60 }, (_, index) => ({ method: 'GET', path: `/svc4/extra${index}` }))];
    const after = placeRoutes(grown, capacity);
    const afterWhere = stackOf(after);
    const overflowed = beforeWhere.get('GET /svc4') as string;
    for (const [route, stack] of beforeWhere) if (stack !== overflowed) expect([route, afterWhere.get(route)]).toEqual([route, stack]);
    // The overflowing stack became two with one more hash bit: the half whose bit is 0 keeps the name, and its
    // families stay; only the other half's move, to the new stack.
    expect([...after.stacks.keys()].filter((name) => name.startsWith(overflowed)).sort()).toEqual([overflowed, `${overflowed}1`]);
    const kept = [...beforeWhere].filter(([route, stack]) => stack === overflowed && afterWhere.get(route) === overflowed);
    const moved = [...beforeWhere].filter(([route, stack]) => stack === overflowed && afterWhere.get(route) === `${overflowed}1`);
    expect(kept.length).toBeGreaterThan(0);
    expect(moved.length).toBeGreaterThan(0);
    expect(kept.length + moved.length).toBe([...beforeWhere.values()].filter((stack) => stack === overflowed).length);
  });

  it('names stacks by hash prefix without trailing zeros past the first bits, so that names stay distinct', () => {
    expect(stackName('011')).toBe('Routes011');
    expect(stackName('0110')).toBe('Routes011');
    expect(stackName('0111')).toBe('Routes0111');
    expect(stackName('01100')).toBe('Routes011');
    expect(stackName('01110')).toBe('Routes0111');
    expect(stackName('000')).toBe('Routes000');
    expect(stackName('0000')).toBe('Routes000');
  });

  it('counts a CORS preflight method per resource when asked (perResource)', () => {
    const routes = table(100);
    const plain = placeRoutes(routes);
    const cors = placeRoutes(routes, undefined, 1);
    const total = (placement: RoutePlacement<PlacedRoute>) =>
      [...placement.stacks.values()].flat().reduce((sum, unit) => sum + unit.size, 0);
    expect(total(cors) - total(plain)).toBe(apiGatewayResourceCount(routes.map((route) => route.path)));
    expect(inlineSize(routes, 1) - inlineSize(routes)).toBe(apiGatewayResourceCount(routes.map((route) => route.path)));
  });

  it('splits a family too large for one stack by its next segment, keeping the shared resource and its methods inline', () => {
    const huge: PlacedRoute[] = [
      { method: 'GET', path: '/big' },
      ...Array.from({ length: 300 }, (_, index) => ({ method: 'GET', path: `/big/part${index % 3}/item${index}` })),
    ];
    const placement = placeRoutes(huge, 250);
    expect(placement.inline.map((route) => route.path)).toEqual(['/big']);
    expect(placement.inlineResources).toEqual(['/big']);
    const roots = [...placement.stacks.values()]
      .flat()
      .map((unit) => unit.rootPath)
      .sort();
    expect(roots).toEqual(['/big/part0', '/big/part1', '/big/part2']);
  });

  it('keeps methods on the root in the API stack', () => {
    const placement = placeRoutes([{ method: 'GET', path: '/' }, ...table(20)]);
    expect(placement.inline).toEqual([{ method: 'GET', path: '/' }]);
  });
});

describe('apiGatewayResourceCount', () => {
  it('counts each distinct path prefix once, without the root', () => {
    expect(apiGatewayResourceCount(['/a/b', '/a/{id}', '/a', '/c/{proxy+}', '/'])).toBe(5);
  });
});
