// `wgprof config`: validate a vLLM-style --profiler-config and print it normalized with its hash.

import { computeHash, describeProfilerConfigFields, PROFILER_CONFIG_DEFAULTS, profilerConfigFromArgs, ProfilerConfigError } from '../config/index.js';
import type { ProfilerConfig } from '../config/index.js';
import type { Command } from './main.js';

const HELP_WIDTH = 100;

/** Word-wraps `text` (each of its own lines separately) to `width` columns, every line prefixed by `indent`. */
function wrap(text: string, indent: string, width = HELP_WIDTH): string[] {
  const out: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter(Boolean)) {
      if (line && indent.length + line.length + 1 + word.length > width) {
        out.push(indent + line);
        line = word;
      } else {
        line = line ? `${line} ${word}` : word;
      }
    }
    if (line) out.push(indent + line);
  }
  return out;
}

function fieldsHelp(): string[] {
  const lines: string[] = [];
  for (const field of describeProfilerConfigFields()) {
    lines.push(`  ${field.name}: ${field.type} = ${JSON.stringify(field.default)}`);
    lines.push(...wrap(field.description, '      '));
    if (field.wgprof) lines.push(...wrap(`wgprof: ${field.wgprof}`, '      '));
  }
  return lines;
}

const help = [
  "usage: wgprof config [--profiler-config '<json>'] [--profiler-config.KEY=VALUE ...] [--json] [--runtime node|browser]",
  '',
  ...wrap(
    "Validates a profiler config exactly as vLLM's --profiler-config takes it (a vLLM user's config works unchanged) and prints it normalized: all 11 keys, defaults filled in, torch_profiler_dir made absolute. Then prints its hash. With no --profiler-config it prints the defaults.",
    '',
  ),
  '',
  'options:',
  "  --profiler-config JSON          the whole config as JSON (also --profiler-config=JSON)",
  '  --profiler-config.KEY=VALUE     one key (also --profiler-config.KEY VALUE); booleans take true/false (or 1/0,',
  '                                  yes/no), profiler takes torch, cuda or null. Dotted keys override the JSON\'s',
  '                                  keys wherever they stand; the JSON\'s other keys are kept',
  '  --json                          print {"config": {...}, "hash": "..."} instead of text',
  '  --runtime node|browser          resolve torch_profiler_dir as under Node (default: "~" expanded, made',
  '                                  absolute) or as in a browser page (kept verbatim as a logical name)',
  '',
  "fields (vLLM's ProfilerConfig; descriptions are vLLM's docstrings):",
  ...fieldsHelp(),
  '',
  ...wrap(
    `hash: vLLM's ProfilerConfig.compute_hash(), the md5 of str([]) = ${computeHash(PROFILER_CONFIG_DEFAULTS)}. It is the same for every config, as in vLLM: no profiler field affects the computation graph.`,
    '',
  ),
  '',
  'examples:',
  `  wgprof config --profiler-config '{"profiler": "torch", "torch_profiler_dir": "./vllm_profile"}'`,
  '  wgprof config --profiler-config.profiler=torch --profiler-config.torch_profiler_dir=./vllm_profile \\',
  '                --profiler-config.delay_iterations=2 --profiler-config.max_iterations=3 --profiler-config.ignore_frontend=true',
  '',
  'exit status: 0 when the config is valid, 2 when it is not (every problem listed on stderr) or on bad usage.',
].join('\n');

export const command: Command = {
  summary: 'validate a --profiler-config and print it normalized with its hash',
  help,
  async main(argv: string[]): Promise<number> {
    let parsed: { config: ProfilerConfig | undefined; rest: string[] };
    let json = false;
    let runtime: 'node' | 'browser' = 'node';
    // Options of our own first, so a bad --runtime is reported before the config is resolved with it.
    const others: string[] = [];
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i]!;
      if (arg === '--json') json = true;
      else if (arg === '--runtime' || arg.startsWith('--runtime=')) {
        const value = arg === '--runtime' ? argv[++i] : arg.slice('--runtime='.length);
        if (value !== 'node' && value !== 'browser') {
          process.stderr.write(`wgprof config: --runtime takes node or browser (given ${value === undefined ? 'nothing' : JSON.stringify(value)})\n`);
          return 2;
        }
        runtime = value;
      } else others.push(arg);
    }
    try {
      parsed = profilerConfigFromArgs(others, { runtime });
    } catch (error) {
      if (!(error instanceof ProfilerConfigError)) throw error;
      process.stderr.write(`wgprof config: ${error.message}\n`);
      return 2;
    }
    if (parsed.rest.length > 0) {
      process.stderr.write(
        `wgprof config: unexpected argument ${JSON.stringify(parsed.rest[0])}; ` +
          `pass the config as --profiler-config '<json>' or --profiler-config.KEY=VALUE (see wgprof config --help)\n`,
      );
      return 2;
    }
    const config = parsed.config ?? { ...PROFILER_CONFIG_DEFAULTS };
    const hash = computeHash(config);
    if (json) process.stdout.write(`${JSON.stringify({ config, hash })}\n`);
    else process.stdout.write(`${JSON.stringify(config, null, 2)}\nhash: ${hash}\n`);
    return 0;
  },
};
