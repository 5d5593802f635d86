// `wgprof config`: validate a vLLM-style --profiler-config and print it normalized with its hash.

import { computeHash, describeProfilerConfigFields, PROFILER_CONFIG_DEFAULTS, ProfilerConfigError } from '../config/index.js';
import type { ProfilerConfigCoercion } from '../config/index.js';
import { errorMessage } from '../util/errors.js';
import { parseCommandArgs } from './args.js';
import { EXIT, UsageError, type Command } from './command.js';

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
    "Validates a profiler config exactly as vLLM's --profiler-config takes it (a vLLM user's config works unchanged) and prints it normalized: " +
      'every key, defaults filled in, torch_profiler_dir made absolute and checked writable. Then prints its hash, and which values were converted as ' +
      'vLLM\'s pydantic converts them in lax mode ("2" → 2, "false" → false). With no --profiler-config it prints the defaults.',
    '',
  ),
  '',
  'options:',
  '  --profiler-config JSON          the whole config as JSON (also --profiler-config=JSON)',
  '  --profiler-config.KEY=VALUE     one key (also --profiler-config.KEY VALUE); a value that is JSON is parsed as',
  '                                  JSON (as vLLM does), booleans also take 1/0, yes/no, on/off. As in vLLM only the',
  '                                  last --profiler-config counts, and the dotted keys count as one, after the rest',
  '  --profiler-config.KEY+ A,B      append to a list (torch_profiler_activities)',
  '  --json                          print {"config": {...}, "hash": "...", "coerced": [...]} instead of text',
  '  --runtime node|browser          resolve torch_profiler_dir as under Node (default: "~" expanded, made',
  '                                  absolute) or as in a browser page (kept verbatim as a logical name)',
  '',
  "fields (vLLM's ProfilerConfig; descriptions are vLLM's docstrings):",
  ...fieldsHelp(),
  '',
  ...wrap(
    `hash: vLLM's ProfilerConfig.compute_hash(), the md5 of str([]) = ${computeHash(PROFILER_CONFIG_DEFAULTS)}. It is the same for every config, as ` +
      `in vLLM: no profiler field affects the computation graph.`,
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

/** The lines saying which values vLLM's pydantic lax mode converted, e.g. `delay_iterations: the string "2" → 2`. */
function coercionLines(coerced: readonly ProfilerConfigCoercion[]): string[] {
  return coerced.map((c) => `coerced: ${c.key}: ${JSON.stringify(c.given)} → ${JSON.stringify(c.value)} (as vLLM's pydantic lax mode converts it)`);
}

export const command: Command = {
  summary: 'validate a --profiler-config and print it normalized with its hash',
  help,
  async main(argv: string[]): Promise<number> {
    let parsed;
    try {
      // --runtime first: a bad one is reported before the config is resolved with it.
      const at = argv.findIndex((a) => a === '--runtime' || a.startsWith('--runtime='));
      const runtime = at < 0 ? 'node' : argv[at]!.startsWith('--runtime=') ? argv[at]!.slice('--runtime='.length) : argv[at + 1];
      if (runtime !== 'node' && runtime !== 'browser') {
        throw new UsageError(`--runtime takes node or browser (given ${runtime === undefined ? 'nothing' : JSON.stringify(runtime.slice(0, 80))})`);
      }
      parsed = parseCommandArgs(argv, {
        command: 'config',
        options: { json: { type: 'boolean' }, runtime: { type: 'string' } },
        profilerConfig: { runtime },
      });
    } catch (error) {
      if (!(error instanceof ProfilerConfigError || error instanceof UsageError)) throw error;
      process.stderr.write(`wgprof config: ${errorMessage(error)}\n`);
      return EXIT.usage;
    }
    const config = parsed.profilerConfig ?? { ...PROFILER_CONFIG_DEFAULTS };
    const hash = computeHash(config);
    const coerced = coercionLines(parsed.coerced);
    if (parsed.values.json) process.stdout.write(`${JSON.stringify({ config, hash, ...(coerced.length > 0 ? { coerced: parsed.coerced } : {}) })}\n`);
    else process.stdout.write(`${JSON.stringify(config, null, 2)}\nhash: ${hash}\n${coerced.map((line) => `${line}\n`).join('')}`);
    return EXIT.ok;
  },
};
