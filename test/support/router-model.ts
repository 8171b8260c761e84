/**
 * An independent model of API Gateway's REST routing for tests, written as a walk down the resource tree rather
 * than by ranking (lambdas/core/route-table.ts ranks): the raw path loses one trailing slash, is split on `/` as
 * sent and each segment percent-decoded; then at each level try the literal child, then the `{param}` child, then a
 * greedy `{name+}` child (which takes the rest), and serve with the first resource that matches the whole path and
 * has the method (an exact method before `ANY`).
 */
import type { RouteRule } from '../../lambdas/core/route-table';

/** The segments API Gateway routes on, for a raw request path. */
export function modelSegments(rawPath: string): string[] {
  const trimmed = rawPath.length > 1 && rawPath.endsWith('/') ? rawPath.slice(0, -1) : rawPath;
  if (trimmed === '/') return [];
  return trimmed
    .slice(1)
    .split('/')
    .map((segment) => {
      try {
        return decodeURIComponent(segment);
      } catch {
        return segment;
      }
    });
}

export function apiGatewayServes<R extends Pick<RouteRule, 'method' | 'path'>>(
  routes: readonly R[],
  method: string,
  segments: readonly string[],
): R | undefined {
  const partsOf = (route: R) => (route.path === '/' ? [] : route.path.split('/').slice(1));
  const walk = (prefix: string[], depth: number): R | undefined => {
    const here = routes.filter((route) => partsOf(route).join('/') === prefix.join('/') && partsOf(route).length === prefix.length);
    if (depth === segments.length) return here.find((route) => route.method === method) ?? here.find((route) => route.method === 'ANY');
    const segment = segments[depth] as string;
    if (segment.length === 0) return undefined;
    const children = new Set(
      routes
        .map(partsOf)
        .filter((parts) => parts.length > depth && parts.slice(0, depth).join('/') === prefix.join('/'))
        .map((parts) => parts[depth] as string),
    );
    const literal = [...children].find((child) => child === segment && !child.startsWith('{'));
    const param = [...children].find((child) => /^\{[^+}]+\}$/.test(child));
    const greedy = [...children].find((child) => child.endsWith('+}'));
    for (const child of [literal, param]) {
      if (child === undefined) continue;
      const found = walk([...prefix, child], depth + 1);
      if (found) return found;
    }
    if (greedy !== undefined && segments.slice(depth).every((rest) => rest.length > 0)) {
      const owners = routes.filter((route) => partsOf(route).join('/') === [...prefix, greedy].join('/'));
      return owners.find((route) => route.method === method) ?? owners.find((route) => route.method === 'ANY');
    }
    return undefined;
  };
  return walk([], 0);
}
