import { expect, it } from 'vitest';
import { startDynalite } from '../support/dynalite';
it('boots', async () => { const d = await startDynalite(); const t = await d.createTable(); expect(t).toMatch(/keys/); await d.close(); });
