// Reading a compute entry point's `@workgroup_size` out of WGSL source, for dispatches that come
// without a kernel descriptor (third-party code such as onnxruntime-web). Pure; a small scanner, not a
// WGSL parser: it handles integer literals and `override`/`const` identifiers with integer
// initializers (overridden by the pipeline's `compute.constants`), and gives up (undefined) on
// anything else rather than guess.

export type WorkgroupSize = [number, number, number];

/** Strips `//` and (nested) `/* *\/` comments, keeping offsets irrelevant. */
function stripComments(code: string): string {
  let out = '';
  let depth = 0;
  for (let i = 0; i < code.length; i++) {
    const c = code[i];
    const next = code[i + 1];
    if (depth === 0 && c === '/' && next === '/') {
      while (i < code.length && code[i] !== '\n') i++;
      out += '\n';
    } else if (c === '/' && next === '*') {
      depth++;
      i++;
    } else if (depth > 0 && c === '*' && next === '/') {
      depth--;
      i++;
      out += ' ';
    } else if (depth === 0) {
      out += c;
    }
  }
  return out;
}

const INT_LITERAL = /^(0[xX][0-9a-fA-F]+|\d+)[iu]?$/;

function integerOf(text: string): number | undefined {
  const t = text.trim();
  if (!INT_LITERAL.test(t)) return undefined;
  const value = Number.parseInt(t.replace(/[iu]$/, ''), t.startsWith('0x') || t.startsWith('0X') ? 16 : 10);
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/**
 * The workgroup size of `entryPoint` (or of the only `@compute` function when none is named), with
 * pipeline-overridable constants taken from `constants` first, then from their initializers.
 */
export function parseWorkgroupSize(
  code: string,
  entryPoint?: string,
  constants?: Readonly<Record<string, number>>,
): WorkgroupSize | undefined {
  const src = stripComments(code);
  // Attributes may come in any order before `fn name(`; capture the attribute block and the name.
  const fnPattern = /((?:@\s*[A-Za-z_]\w*(?:\s*\([^()]*\))?\s*)+)fn\s+([A-Za-z_]\w*)\s*\(/g;
  const candidates: { attrs: string; name: string }[] = [];
  for (let m = fnPattern.exec(src); m; m = fnPattern.exec(src)) {
    const attrs = m[1] ?? '';
    if (/@\s*compute\b/.test(attrs)) candidates.push({ attrs, name: m[2] ?? '' });
  }
  const chosen = entryPoint !== undefined ? candidates.find((c) => c.name === entryPoint) : candidates.length === 1 ? candidates[0] : undefined;
  if (!chosen) return undefined;
  const sizeMatch = /@\s*workgroup_size\s*\(([^()]*)\)/.exec(chosen.attrs);
  if (!sizeMatch) return undefined;
  const parts = (sizeMatch[1] ?? '').split(',').map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length < 1 || parts.length > 3) return undefined;
  const size: number[] = [];
  for (const part of parts) {
    const value = integerOf(part) ?? resolveIdentifier(src, part, constants);
    if (value === undefined) return undefined;
    size.push(value);
  }
  return [size[0] ?? 1, size[1] ?? 1, size[2] ?? 1];
}

function resolveIdentifier(src: string, name: string, constants?: Readonly<Record<string, number>>): number | undefined {
  if (!/^[A-Za-z_]\w*$/.test(name)) return undefined;
  // Pipeline constants are keyed by name or by the override's numeric `@id(n)`.
  const id = new RegExp(`@\\s*id\\s*\\(\\s*(\\d+)\\s*\\)\\s*override\\s+${name}\\b`).exec(src)?.[1];
  const fromPipeline = constants?.[name] ?? (id !== undefined ? constants?.[id] : undefined);
  if (fromPipeline !== undefined) return Number.isSafeInteger(fromPipeline) && fromPipeline > 0 ? fromPipeline : undefined;
  // `override name: u32 = 64;`, `@id(0) override name = 64u;`, `const name = 64;`
  const decl = new RegExp(`\\b(?:override|const)\\s+${name}\\s*(?::\\s*[A-Za-z_]\\w*)?\\s*=\\s*([^;]+);`).exec(src);
  return decl ? integerOf(decl[1] ?? '') : undefined;
}
