// Reading a compute entry point's `@workgroup_size` and the workgroup memory it uses out of WGSL
// source: the kernel event's `block` and `shared memory`, also for dispatches that come without a
// kernel descriptor (third-party code such as onnxruntime-web). Pure; a small scanner, not a WGSL
// parser: it handles integer literals, `override`/`const` identifiers (overridden by the pipeline's
// `compute.constants`) and, for array lengths, constant integer expressions of those, and gives up
// (undefined) on anything else rather than guess.

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

/** The `@compute` function named `entryPoint` (or the only one when none is named): its attribute block and name. */
function computeEntryPoint(src: string, entryPoint: string | undefined): { attrs: string; name: string } | undefined {
  // Attributes may come in any order before `fn name(`; capture the attribute block and the name.
  const fnPattern = /((?:@\s*[A-Za-z_]\w*(?:\s*\([^()]*\))?\s*)+)fn\s+([A-Za-z_]\w*)\s*\(/g;
  const candidates: { attrs: string; name: string }[] = [];
  for (let m = fnPattern.exec(src); m; m = fnPattern.exec(src)) {
    const attrs = m[1] ?? '';
    if (/@\s*compute\b/.test(attrs)) candidates.push({ attrs, name: m[2] ?? '' });
  }
  return entryPoint !== undefined ? candidates.find((c) => c.name === entryPoint) : candidates.length === 1 ? candidates[0] : undefined;
}

/**
 * The workgroup size of `entryPoint` (or of the only `@compute` function when none is named), with
 * pipeline-overridable constants taken from `constants` first, then from their initializers.
 */
export function parseWorkgroupSize(code: string, entryPoint?: string, constants?: Readonly<Record<string, number>>): WorkgroupSize | undefined {
  const src = stripComments(code);
  const chosen = computeEntryPoint(src, entryPoint);
  if (!chosen) return undefined;
  const sizeMatch = /@\s*workgroup_size\s*\(([^()]*)\)/.exec(chosen.attrs);
  if (!sizeMatch) return undefined;
  const parts = (sizeMatch[1] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p.length > 0);
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
  const found = identifierValue(src, name, constants);
  if (found === undefined) return undefined;
  if (typeof found === 'number') return Number.isSafeInteger(found) && found > 0 ? found : undefined;
  return integerOf(found.init);
}

/**
 * What an `override`/`const` identifier holds: the pipeline's constant (by name, or by the override's
 * numeric `@id(n)`), else the text of its declaration's initializer; undefined when not declared.
 */
function identifierValue(src: string, name: string, constants?: Readonly<Record<string, number>>): number | { init: string } | undefined {
  if (!/^[A-Za-z_]\w*$/.test(name)) return undefined;
  const id = new RegExp(`@\\s*id\\s*\\(\\s*(\\d+)\\s*\\)\\s*override\\s+${name}\\b`).exec(src)?.[1];
  const fromPipeline = constants?.[name] ?? (id !== undefined ? constants?.[id] : undefined);
  if (fromPipeline !== undefined) return fromPipeline;
  // `override name: u32 = 64;`, `@id(0) override name = 64u;`, `const name = 64;`
  const decl = new RegExp(`\\b(?:override|const)\\s+${name}\\s*(?::\\s*[A-Za-z_]\\w*)?\\s*=\\s*([^;]+);`).exec(src);
  return decl ? { init: decl[1] ?? '' } : undefined;
}

// ---- workgroup memory

/** Size and alignment of a WGSL type in bytes (WGSL §"Memory Layout"). */
interface Layout {
  size: number;
  align: number;
}

const SCALAR_BYTES: Readonly<Record<string, number>> = { f32: 4, i32: 4, u32: 4, f16: 2 };
const VECTOR_SHORTHAND = /^vec([234])([fiuh])$/;
const MATRIX_SHORTHAND = /^mat([234])x([234])([fh])$/;
const SHORTHAND_SCALAR: Readonly<Record<string, string>> = { f: 'f32', i: 'i32', u: 'u32', h: 'f16' };

function roundUp(k: number, n: number): number {
  return Math.ceil(n / k) * k;
}

/** Splits `a, b<c, d>, e` at its top-level commas. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '<' || c === '(') depth++;
    else if (c === '>' || c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i).trim());
      start = i + 1;
    }
  }
  const last = text.slice(start).trim();
  if (last !== '') parts.push(last);
  return parts;
}

/** A constant integer expression: literals, override/const identifiers, + - * / % and parentheses. */
class ConstExpr {
  private pos = 0;
  private text = '';
  constructor(
    private readonly src: string,
    private readonly constants: Readonly<Record<string, number>> | undefined,
    private readonly depth: number,
  ) {}

  evaluate(text: string): number | undefined {
    // Identifiers resolve through their initializers; a cycle (or a very deep chain) gives up.
    if (this.depth > 16) return undefined;
    this.text = text;
    this.pos = 0;
    const value = this.sum();
    this.skipSpace();
    return value !== undefined && this.pos === this.text.length && Number.isSafeInteger(value) ? value : undefined;
  }

  private skipSpace(): void {
    while (this.pos < this.text.length && /\s/.test(this.text[this.pos]!)) this.pos++;
  }

  private sum(): number | undefined {
    let left = this.product();
    for (;;) {
      this.skipSpace();
      const op = this.text[this.pos];
      if (left === undefined || (op !== '+' && op !== '-')) return left;
      this.pos++;
      const right = this.product();
      if (right === undefined) return undefined;
      left = op === '+' ? left + right : left - right;
    }
  }

  private product(): number | undefined {
    let left = this.unary();
    for (;;) {
      this.skipSpace();
      const op = this.text[this.pos];
      if (left === undefined || (op !== '*' && op !== '/' && op !== '%')) return left;
      this.pos++;
      const right = this.unary();
      if (right === undefined || (op !== '*' && right === 0)) return undefined;
      // WGSL integer division truncates toward zero.
      left = op === '*' ? left * right : op === '/' ? Math.trunc(left / right) : left % right;
    }
  }

  private unary(): number | undefined {
    this.skipSpace();
    if (this.text[this.pos] === '-') {
      this.pos++;
      const v = this.unary();
      return v === undefined ? undefined : -v;
    }
    if (this.text[this.pos] === '(') {
      this.pos++;
      const v = this.sum();
      this.skipSpace();
      if (this.text[this.pos] !== ')') return undefined;
      this.pos++;
      return v;
    }
    const token = /^(?:0[xX][0-9a-fA-F]+|\d+)[iu]?|^[A-Za-z_]\w*/.exec(this.text.slice(this.pos))?.[0];
    if (token === undefined) return undefined;
    this.pos += token.length;
    if (/^\d/.test(token)) {
      const digits = token.replace(/[iu]$/, '');
      return Number.parseInt(digits, /^0[xX]/.test(digits) ? 16 : 10);
    }
    const found = identifierValue(this.src, token, this.constants);
    if (found === undefined) return undefined;
    if (typeof found === 'number') return Number.isSafeInteger(found) ? found : undefined;
    return new ConstExpr(this.src, this.constants, this.depth + 1).evaluate(found.init.trim());
  }
}

/** Size and alignment of a type made of scalars, vectors, matrices, atomics and fixed-size arrays; undefined for anything else. */
function layoutOf(type: string, src: string, constants: Readonly<Record<string, number>> | undefined): Layout | undefined {
  const t = type.trim();
  const open = t.indexOf('<');
  const head = (open < 0 ? t : t.slice(0, open)).trim();
  const inner = open < 0 ? undefined : t.endsWith('>') ? splitTopLevel(t.slice(open + 1, -1)) : undefined;
  if (open >= 0 && inner === undefined) return undefined;
  const scalar = SCALAR_BYTES[head];
  if (scalar !== undefined) return inner === undefined ? { size: scalar, align: scalar } : undefined;
  if (head === 'atomic') return inner?.length === 1 && (inner[0] === 'u32' || inner[0] === 'i32') ? { size: 4, align: 4 } : undefined;
  const vec = /^vec([234])$/.exec(head) ?? VECTOR_SHORTHAND.exec(head);
  if (vec) {
    const component = vec[2] !== undefined ? SHORTHAND_SCALAR[vec[2]] : inner?.length === 1 ? inner[0] : undefined;
    const bytes = component !== undefined ? SCALAR_BYTES[component] : undefined;
    if (bytes === undefined || (vec[2] !== undefined && inner !== undefined)) return undefined;
    const n = Number(vec[1]);
    return { size: n * bytes, align: (n === 3 ? 4 : n) * bytes };
  }
  const mat = /^mat([234])x([234])$/.exec(head) ?? MATRIX_SHORTHAND.exec(head);
  if (mat) {
    const component = mat[3] !== undefined ? SHORTHAND_SCALAR[mat[3]] : inner?.length === 1 ? inner[0] : undefined;
    const bytes = component === 'f32' || component === 'f16' ? SCALAR_BYTES[component] : undefined;
    if (bytes === undefined || (mat[3] !== undefined && inner !== undefined)) return undefined;
    const rows = Number(mat[2]);
    // A matrix is an array of its column vectors.
    const columnAlign = (rows === 3 ? 4 : rows) * bytes;
    return { size: Number(mat[1]) * columnAlign, align: columnAlign };
  }
  if (head === 'array' && inner?.length === 2) {
    const element = layoutOf(inner[0]!, src, constants);
    const count = new ConstExpr(src, constants, 0).evaluate(inner[1]!);
    if (element === undefined || count === undefined || count <= 0) return undefined;
    return { size: count * roundUp(element.align, element.size), align: element.align };
  }
  // Structs, aliases, bool, runtime-sized arrays: not worked out here.
  return undefined;
}

/** Each function of the module: its name and its text from `fn` to the closing brace. */
function functionsOf(src: string): Map<string, string> {
  const out = new Map<string, string>();
  const fnPattern = /\bfn\s+([A-Za-z_]\w*)\s*\(/g;
  for (let m = fnPattern.exec(src); m; m = fnPattern.exec(src)) {
    const open = src.indexOf('{', m.index);
    if (open < 0) break;
    let depth = 0;
    let end = open;
    for (; end < src.length; end++) {
      if (src[end] === '{') depth++;
      else if (src[end] === '}' && --depth === 0) break;
    }
    out.set(m[1]!, src.slice(m.index, end + 1));
    fnPattern.lastIndex = end + 1;
  }
  return out;
}

/**
 * Bytes of workgroup memory the entry point uses, as WebGPU counts them against
 * `maxComputeWorkgroupStorageSize`: the sum of roundUp(16, SizeOf(T)) over the `var<workgroup>`
 * variables the entry point statically uses (its body and the functions it calls, transitively). This is
 * what CUDA calls a kernel's static shared memory (WGSL has no dynamic workgroup memory). Array lengths
 * may be constant expressions of literals and `override`/`const` identifiers (pipeline constants first).
 * Undefined — never a guess — when the entry point is not found, a used variable's type is not one of
 * scalars, vectors, matrices, atomics and fixed-size arrays of those, or a function shadows a variable's name.
 */
export function parseWorkgroupMemoryBytes(code: string, entryPoint?: string, constants?: Readonly<Record<string, number>>): number | undefined {
  const src = stripComments(code);
  const entry = computeEntryPoint(src, entryPoint)?.name;
  if (entry === undefined) return undefined;
  const functions = functionsOf(src);
  // The functions the entry point reaches: user functions named in a call `name(`.
  const reached = new Set<string>([entry]);
  const queue = [entry];
  while (queue.length > 0) {
    const text = functions.get(queue.pop()!) ?? '';
    for (const call of text.matchAll(/\b([A-Za-z_]\w*)\s*\(/g)) {
      const callee = call[1]!;
      if (functions.has(callee) && !reached.has(callee)) {
        reached.add(callee);
        queue.push(callee);
      }
    }
  }
  const reachedText = [...reached].map((name) => functions.get(name) ?? '');
  let total = 0;
  for (const v of src.matchAll(/\bvar\s*<\s*workgroup\s*>\s*([A-Za-z_]\w*)\s*:\s*([^;]+);/g)) {
    const name = v[1]!;
    const word = new RegExp(`\\b${name}\\b`);
    if (!reachedText.some((text) => word.test(text))) continue;
    // A local or parameter of the same name would make the mention ambiguous: give up.
    const shadow = new RegExp(`\\b(?:let|var|const)\\s+${name}\\b|\\b${name}\\s*:`);
    if (reachedText.some((text) => shadow.test(text))) return undefined;
    const layout = layoutOf(v[2]!, src, constants);
    if (layout === undefined) return undefined;
    total += roundUp(16, layout.size);
  }
  return total;
}
