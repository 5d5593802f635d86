import type { Command } from './main.js';

// Placeholder until its issue lands.
export const command: Command = {
  summary: 'summarize',
  help: 'usage: wgprof summarize (not implemented yet)',
  async main() {
    process.stderr.write('wgprof summarize: not implemented yet\n');
    return 1;
  },
};
