import type { Command } from './main.js';

// Placeholder until its issue lands.
export const command: Command = {
  summary: 'run',
  help: 'usage: wgprof run (not implemented yet)',
  async main() {
    process.stderr.write('wgprof run: not implemented yet\n');
    return 1;
  },
};
