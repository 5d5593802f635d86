import type { Command } from './main.js';

// Placeholder until its issue lands.
export const command: Command = {
  summary: 'config',
  help: 'usage: wgprof config (not implemented yet)',
  async main() {
    process.stderr.write('wgprof config: not implemented yet\n');
    return 1;
  },
};
