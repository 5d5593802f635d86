// `node --import ./scripts/register.mjs file.ts`: TypeScript through tsx, WGSL as text.
import { register } from 'node:module';
import { register as registerTsx } from 'tsx/esm/api';

registerTsx();
register('./wgsl-hooks.mjs', import.meta.url);
