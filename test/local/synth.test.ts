import { describe, expect, it } from 'vitest';
import { summarizeSynthOutput } from '../../lib/local/synth';

// What `cdk synth` printed when the issue was filed: NodejsFunction's bundling chatter, then Node's report of the error.
const FAILED_SYNTH = `Bundling asset OrdersApp/OrdersWriter/Code/Stage...

  cdk.out/bundling-temp-c756539827f406169461e7a42318384264121d5c13c565207c91cdf09acd05a2-building/index.js  5.0kb

⚡ Done in 11ms
Bundling asset OrdersApp/OrdersReader/Code/Stage...

  cdk.out/bundling-temp-0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0-building/index.js  2.1kb

⚡ Done in 9ms
/app/node_modules/dualgate/dist/index.cjs:391
      throw new RouteTableError(
            ^


RouteTableError: route GET /status is declared twice
    at DualAuthApi.addRoute (/app/node_modules/dualgate/dist/index.cjs:391:13)
    at new OrdersStack (/app/lib/orders-stack.ts:90:15)
    at <anonymous> (/app/bin/app.ts:6:1)
    at Module._compile (node:internal/modules/cjs/loader:1521:14)

Node.js v20.20.2
`;

describe('a failed synth, summarized', () => {
  it('leads with the real error and the app’s own frames, without the bundling chatter', () => {
    expect(summarizeSynthOutput(FAILED_SYNTH).split('\n')).toEqual([
      'RouteTableError: route GET /status is declared twice',
      '    at new OrdersStack (/app/lib/orders-stack.ts:90:15)',
      '    at <anonymous> (/app/bin/app.ts:6:1)',
    ]);
  });

  it('finds TypeScript and esbuild errors, and CDK’s own', () => {
    expect(
      summarizeSynthOutput("Bundling asset A/B/Code/Stage...\nlib/stack.ts(12,5): error TS2304: Cannot find name 'x'.\n").split('\n')[0],
    ).toBe("lib/stack.ts(12,5): error TS2304: Cannot find name 'x'.");
    expect(summarizeSynthOutput('✘ [ERROR] Expected ";" but found "}"\n\n    src/writer.ts:5:2:\n').split('\n').slice(0, 2)).toEqual([
      '✘ [ERROR] Expected ";" but found "}"',
      '    src/writer.ts:5:2:',
    ]);
    expect(summarizeSynthOutput('[«FailedToBundleAsset» Failed to bundle asset A/B\nRelates to construct:\n').split('\n')[0]).toBe(
      '[«FailedToBundleAsset» Failed to bundle asset A/B',
    );
  });

  it('returns the output without the chatter when it names no error', () => {
    expect(summarizeSynthOutput('Bundling asset A/B/Code/Stage...\n\n⚡ Done in 3ms\nsomething odd happened\n')).toBe(
      'something odd happened',
    );
  });
});
