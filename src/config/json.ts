// A strict JSON (RFC 8259) reader that reports WHERE the text is wrong. JSON.parse's messages differ
// between V8 versions and browsers, and some omit the position; a config typed into a shell deserves
// "line 1, column 14: expected ',' or '}'" plus a hint for the usual mistakes (single quotes, Python's
// True/None, trailing commas). Values come out exactly as JSON.parse would produce them.

export class JsonSyntaxError extends Error {
  /** 0-based offset into the text. */
  readonly position: number;
  /** 1-based. */
  readonly line: number;
  /** 1-based. */
  readonly column: number;
  /** What was wrong, without the location (e.g. "expected ',' or '}' after a property value, found '\"'"). */
  readonly detail: string;
  constructor(text: string, position: number, detail: string) {
    const { line, column } = lineColumn(text, position);
    super(`JSON syntax error at line ${line}, column ${column} (position ${position}): ${detail}\n${excerpt(text, position)}`);
    this.name = 'JsonSyntaxError';
    this.position = position;
    this.line = line;
    this.column = column;
    this.detail = detail;
  }
}

/** Parses JSON text; throws JsonSyntaxError (with position and a fix hint) on the first error. */
export function parseJsonStrict(text: string): unknown {
  const reader = new Reader(text);
  reader.skipWhitespace();
  const value = reader.value();
  reader.skipWhitespace();
  if (reader.pos < text.length) {
    throw reader.error(`unexpected ${reader.describeHere()} after the end of the JSON value${hintFor(text, reader.pos)}`);
  }
  return value;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WORD = /[A-Za-z_$][\w$.-]*/y;
const ESCAPES: Record<string, string> = { '"': '"', '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

class Reader {
  pos = 0;
  constructor(readonly text: string) {}

  error(detail: string, at = this.pos): JsonSyntaxError {
    return new JsonSyntaxError(this.text, at, detail);
  }

  describeHere(): string {
    if (this.pos >= this.text.length) return 'end of input';
    const word = matchAt(WORD, this.text, this.pos);
    if (word) return `word ${word}`;
    return `character ${JSON.stringify(this.text[this.pos])}`;
  }

  skipWhitespace(): void {
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === ' ' || c === '\t' || c === '\n' || c === '\r') this.pos++;
      else break;
    }
  }

  value(): unknown {
    const c = this.text[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) return this.number();
    const word = matchAt(WORD, this.text, this.pos);
    if (word === 'true' || word === 'false' || word === 'null') {
      this.pos += word.length;
      return word === 'true' ? true : word === 'false' ? false : null;
    }
    throw this.error(`expected a value (object, array, string, number, true, false or null), found ${this.describeHere()}${hintFor(this.text, this.pos)}`);
  }

  object(): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    this.pos++; // '{'
    this.skipWhitespace();
    if (this.text[this.pos] === '}') {
      this.pos++;
      return result;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] !== '"') {
        const trailingComma = this.text[this.pos] === '}' && Object.keys(result).length > 0;
        throw this.error(
          trailingComma
            ? "trailing comma before '}'; remove the last ','"
            : `expected a property name in double quotes, found ${this.describeHere()}${hintFor(this.text, this.pos)}`,
        );
      }
      const key = this.string();
      this.skipWhitespace();
      if (this.text[this.pos] !== ':') throw this.error(`expected ':' after the property name ${JSON.stringify(key)}, found ${this.describeHere()}`);
      this.pos++;
      this.skipWhitespace();
      // defineProperty: a key named "__proto__" must become an own property (then rejected as an unknown key),
      // not replace the object's prototype.
      Object.defineProperty(result, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.skipWhitespace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === '}') {
        this.pos++;
        return result;
      }
      throw this.error(`expected ',' or '}' after the value of ${JSON.stringify(key)}, found ${this.describeHere()}${hintFor(this.text, this.pos)}`);
    }
  }

  array(): unknown[] {
    const result: unknown[] = [];
    this.pos++; // '['
    this.skipWhitespace();
    if (this.text[this.pos] === ']') {
      this.pos++;
      return result;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.pos] === ']' && result.length > 0) throw this.error("trailing comma before ']'; remove the last ','");
      result.push(this.value());
      this.skipWhitespace();
      const c = this.text[this.pos];
      if (c === ',') {
        this.pos++;
        continue;
      }
      if (c === ']') {
        this.pos++;
        return result;
      }
      throw this.error(`expected ',' or ']' in an array, found ${this.describeHere()}`);
    }
  }

  string(): string {
    const start = this.pos;
    this.pos++; // opening quote
    let out = '';
    for (;;) {
      if (this.pos >= this.text.length) throw this.error('unterminated string (missing closing \'"\')', start);
      const c = this.text[this.pos]!;
      if (c === '"') {
        this.pos++;
        return out;
      }
      if (c === '\\') {
        const e = this.text[this.pos + 1];
        if (e === 'u') {
          const hex = this.text.slice(this.pos + 2, this.pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) throw this.error('invalid \\u escape: expected 4 hex digits');
          out += String.fromCharCode(parseInt(hex, 16));
          this.pos += 6;
          continue;
        }
        const decoded = e === undefined ? undefined : ESCAPES[e];
        if (decoded === undefined) {
          throw this.error(`invalid escape \\${e ?? ''} in a string; write a backslash as \\\\ (Windows paths: "C:\\\\traces" or "C:/traces")`);
        }
        out += decoded;
        this.pos += 2;
        continue;
      }
      if (c < ' ') throw this.error(`control character U+${c.charCodeAt(0).toString(16).padStart(4, '0')} inside a string; escape it (\\n, \\t, ...)`);
      out += c;
      this.pos++;
    }
  }

  number(): number {
    const token = matchAt(NUMBER, this.text, this.pos);
    if (!token || token === '-') throw this.error(`invalid number, found ${this.describeHere()}`);
    const next = this.text[this.pos + token.length];
    if (next !== undefined && /[\w.]/.test(next)) {
      throw this.error(`invalid number ${JSON.stringify(this.text.slice(this.pos, this.pos + token.length + 1))}: JSON numbers are decimal (no leading zeros, hex or suffixes)`);
    }
    this.pos += token.length;
    return Number(token);
  }
}

function matchAt(re: RegExp, text: string, pos: number): string | undefined {
  re.lastIndex = pos;
  return re.exec(text)?.[0];
}

/** A fix for the mistakes people make when typing JSON by hand (empty when none applies). */
function hintFor(text: string, pos: number): string {
  const c = text[pos];
  if (c === "'") return ". JSON strings and keys need double quotes; in a shell, wrap the whole JSON in single quotes: --profiler-config '{\"profiler\": \"torch\"}'";
  const word = matchAt(WORD, text, pos);
  if (word === 'True' || word === 'False') return `. JSON booleans are lowercase: ${word.toLowerCase()}`;
  if (word === 'None' || word === 'NULL' || word === 'Null' || word === 'undefined') return '. JSON spells "no value" as null';
  if (word === 'NaN' || word === 'Infinity') return '. JSON has no NaN or Infinity; use a finite number';
  if (word !== undefined) return `. Strings need double quotes: "${word}"`;
  return '';
}

function lineColumn(text: string, position: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < position && i < text.length; i++) {
    if (text[i] === '\n') {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: position - lineStart + 1 };
}

/** The offending line (clipped to 60 characters around the error) with a caret under the position. */
function excerpt(text: string, position: number): string {
  const lineStart = text.lastIndexOf('\n', position - 1) + 1;
  const lineEndRaw = text.indexOf('\n', position);
  const lineEnd = lineEndRaw < 0 ? text.length : lineEndRaw;
  const from = Math.max(lineStart, position - 40);
  const to = Math.min(lineEnd, position + 20);
  const prefix = from > lineStart ? '...' : '';
  const suffix = to < lineEnd ? '...' : '';
  const shown = text.slice(from, to).replace(/[\t\r]/g, ' ');
  return `    ${prefix}${shown}${suffix}\n    ${' '.repeat(prefix.length + position - from)}^`;
}
