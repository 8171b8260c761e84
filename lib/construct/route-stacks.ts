/**
 * Where a large route table's API Gateway resources and methods go: which stay in the API's own stack and which go
 * into which nested stack. Pure: routes in, placement out, the same placement for the same table on every synth.
 *
 * - A unit is a path family: the routes under one top-level segment (`/orders/...`). A unit's resources and methods
 *   stay together in one nested stack. A family too large for one stack is split by its next segment
 *   (`/orders/{id}/...`, `/orders/search/...`); the resources it shares (`/orders`) and their methods stay in the
 *   API's stack, so no nested stack references another.
 * - Units are placed by extendible hashing of their path: a unit's stack is the first `depth` bits of SHA-256 of its
 *   root path, starting at 3 bits (8 stacks at most). Only a stack whose contents pass its capacity splits into two
 *   (one more bit), so a new route changes its own unit's stack and no other; of a stack that splits, the half whose
 *   next bit is 0 keeps the stack's name, so growth moves only the other half of one stack's units.
 */
import { createHash } from 'node:crypto';

/** CloudFormation allows 500 resources per template: a nested stack is filled to this, leaving room to grow. */
const NESTED_STACK_CAPACITY = 400;
/** The first hash bits that name a nested stack: up to 8 stacks before any split. */
const INITIAL_HASH_BITS = 3;
/**
 * With `nestedStacks: 'auto'`, the routes are nested only when keeping them in the API's stack would take that stack
 * past this many CloudFormation resources (of the 500 allowed): an app that fits keeps its layout.
 */
export const AUTO_NEST_THRESHOLD = 450;
/** API Gateway's default quota of resources per REST API (adjustable in Service Quotas: "Resources per API"). */
export const API_GATEWAY_RESOURCES_PER_API = 300;

export interface PlacedRoute {
  readonly method: string;
  readonly path: string;
  /** CloudFormation resources the route's method adds besides itself (a LambdaIntegration's two permissions). */
  readonly extraResources?: number;
}

/** A path family placed in one nested stack: its root (`/orders`) and every route at or under it. */
interface RouteUnit<R extends PlacedRoute> {
  readonly rootPath: string;
  readonly routes: readonly R[];
  /** API Gateway resources plus methods (plus extra resources) the unit adds to its stack. */
  readonly size: number;
}

export interface RoutePlacement<R extends PlacedRoute> {
  /** Routes whose method stays in the API's stack (the root, and resources shared by a split family). */
  readonly inline: readonly R[];
  /** Resource paths that stay in the API's stack although no inline route sits on them. */
  readonly inlineResources: readonly string[];
  /** Nested stacks by name (`Routes010`): their units, in path order. */
  readonly stacks: ReadonlyMap<string, readonly RouteUnit<R>[]>;
}

const segmentsOf = (path: string) => path.split('/').filter((segment) => segment.length > 0);

/** Distinct API Gateway resources under (and including) `prefix`, plus one per method and its extra resources. */
function unitSize(prefix: readonly string[], routes: readonly PlacedRoute[], perResource: number): number {
  const resources = new Set<string>();
  for (const route of routes) {
    const segments = segmentsOf(route.path);
    for (let depth = prefix.length; depth <= segments.length; depth++) if (depth > 0) resources.add(segments.slice(0, depth).join('/'));
  }
  return resources.size * (1 + perResource) + routes.reduce((sum, route) => sum + 1 + (route.extraResources ?? 0), 0);
}

function hashBits(rootPath: string): string {
  return [...createHash('sha256').update(rootPath).digest().subarray(0, 4)].map((byte) => byte.toString(2).padStart(8, '0')).join('');
}

/** Split the routes under `prefix` into units no larger than `capacity`; what a split family shares stays inline. */
function unitsUnder<R extends PlacedRoute>(
  prefix: string[],
  routes: readonly R[],
  capacity: number,
  perResource: number,
  placement: { inline: R[]; inlineResources: string[]; units: RouteUnit<R>[] },
): void {
  const groups = new Map<string, R[]>();
  for (const route of routes) {
    const segment = segmentsOf(route.path)[prefix.length];
    if (segment === undefined) placement.inline.push(route);
    else groups.set(segment, [...(groups.get(segment) ?? []), route]);
  }
  for (const [segment, members] of [...groups].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    const path = [...prefix, segment];
    const size = unitSize(path, members, perResource);
    const splittable = members.some((route) => segmentsOf(route.path).length > path.length);
    if (size <= capacity || !splittable) placement.units.push({ rootPath: `/${path.join('/')}`, routes: members, size });
    else {
      placement.inlineResources.push(`/${path.join('/')}`);
      unitsUnder(path, members, capacity, perResource, placement);
    }
  }
}

/**
 * A stack's name from its hash prefix, without the zeros after the first bits: when `Routes011` splits, the half with
 * the next bit 0 keeps the name `Routes011` (its units do not move) and the other half becomes `Routes0111`. The names
 * stay distinct: two prefixes that differ only by trailing zeros are a prefix of each other, never both stacks.
 */
export function stackName(prefix: string): string {
  let end = prefix.length;
  while (end > INITIAL_HASH_BITS && prefix[end - 1] === '0') end--;
  return `Routes${prefix.slice(0, end)}`;
}

/**
 * Place every route: the API's stack, or a nested stack named by its unit's hash bits. `perResource` counts methods
 * every resource gets besides the routes' (1 for an API whose resources get a CORS preflight `OPTIONS`).
 */
export function placeRoutes<R extends PlacedRoute>(
  routes: readonly R[],
  capacity = NESTED_STACK_CAPACITY,
  perResource = 0,
): RoutePlacement<R> {
  const found = { inline: [] as R[], inlineResources: [] as string[], units: [] as RouteUnit<R>[] };
  unitsUnder([], routes, capacity, perResource, found);
  const stacks = new Map<string, RouteUnit<R>[]>();
  const place = (units: RouteUnit<R>[], bits: number) => {
    const byPrefix = new Map<string, RouteUnit<R>[]>();
    for (const unit of units) {
      const prefix = hashBits(unit.rootPath).slice(0, bits);
      byPrefix.set(prefix, [...(byPrefix.get(prefix) ?? []), unit]);
    }
    for (const [prefix, members] of byPrefix) {
      const size = members.reduce((sum, unit) => sum + unit.size, 0);
      // Extendible hashing: only the stack that overflows splits, one more bit at a time (32 bits at most).
      if (size > capacity && members.length > 1 && bits < 32) place(members, bits + 1);
      else stacks.set(stackName(prefix), members);
    }
  };
  place(found.units, INITIAL_HASH_BITS);
  const sorted = new Map([...stacks].sort(([a], [b]) => (a < b ? -1 : 1)));
  return { inline: found.inline, inlineResources: found.inlineResources, stacks: sorted };
}

/** CloudFormation resources the routes add to the API's stack when none is nested: resources, methods and extras. */
export function inlineSize(routes: readonly PlacedRoute[], perResource = 0): number {
  return (
    apiGatewayResourceCount(routes.map((route) => route.path)) * (1 + perResource) +
    routes.reduce((sum, route) => sum + 1 + (route.extraResources ?? 0), 0)
  );
}

/** Distinct API Gateway resources of a table (the root not counted, as in API Gateway's quota). */
export function apiGatewayResourceCount(paths: Iterable<string>): number {
  const resources = new Set<string>();
  for (const path of paths) {
    const segments = segmentsOf(path);
    for (let depth = 1; depth <= segments.length; depth++) resources.add(segments.slice(0, depth).join('/'));
  }
  return resources.size;
}
