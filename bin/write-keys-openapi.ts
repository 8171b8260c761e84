/** Regenerate docs/keys-openapi.json from the route table and the zod schemas: `npx tsx bin/write-keys-openapi.ts`. */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { buildKeysOpenApi } from '../lib/build/keys-openapi';

const target = fileURLToPath(new URL('../docs/keys-openapi.json', import.meta.url));
writeFileSync(target, `${JSON.stringify(buildKeysOpenApi(), null, 2)}\n`);
process.stdout.write(`wrote ${target}\n`);
