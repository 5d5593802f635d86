// JSON text → value, with errors that say WHERE the text is wrong and how to fix the usual mistakes
// (single quotes, Python's True/None, trailing commas). Values come from JSON.parse; only when it fails
// does jsonc-parser (the VS Code JSON scanner) locate the problem, since JSON.parse's messages differ
// between engines and often omit the position.

import { parse as locate, printParseErrorCode, type ParseError } from 'jsonc-parser';

/** Deeper nesting than any config needs; rejected before parsing (deep input would exhaust the stack later). */
export const MAX_JSON_DEPTH = 64;

export class JsonSyntaxError extends Error {
  constructor(
    text: string,
    readonly position: number,
    readonly detail: string,
  ) {
    const before = text.slice(0, position).split('\n');
    const line = before.length;
    const column = before.at(-1)!.length + 1;
    super(`JSON syntax error at line ${line}, column ${column} (position ${position}): ${detail}\n${excerpt(text, position)}`);
    this.name = 'JsonSyntaxError';
  }
}

/** Parses JSON text; throws JsonSyntaxError (with position and a fix hint) on the first error. */
export function parseJson(text: string): unknown {
  const deep = depthExceeded(text);
  if (deep !== undefined) throw new JsonSyntaxError(text, deep, `nested more than ${MAX_JSON_DEPTH} levels deep; a profiler config is a flat object`);
  try {
    return JSON.parse(text);
  } catch {
    const errors: ParseError[] = [];
    locate(text, errors, { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false });
    const first = errors[0] ?? { error: 1, offset: 0, length: 0 };
    throw new JsonSyntaxError(text, first.offset, describe(text, first));
  }
}

/** The offset of the first bracket opened deeper than MAX_JSON_DEPTH (strings skipped), if any. */
function depthExceeded(text: string): number | undefined {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    } else if (c === '{' || c === '[') {
      if (++depth > MAX_JSON_DEPTH) return i;
    } else if (c === '}' || c === ']') depth--;
  }
  return undefined;
}

const WORD = /[A-Za-z_$][\w$.-]*/y;

/** The word at `at` (clipped), if one starts there. */
function wordAt(text: string, at: number): string | undefined {
  WORD.lastIndex = at;
  return WORD.exec(text)?.[0].slice(0, 60);
}

const QUOTES_HINT = '. JSON strings and keys need double quotes; in a shell, wrap the whole JSON in single quotes: --profiler-config \'{"profiler": "torch"}\'';
const NULL_HINT = '. JSON spells "no value" as null';
const WORD_HINTS = new Map([
  ['True', '. JSON booleans are lowercase: true'],
  ['False', '. JSON booleans are lowercase: false'],
  ['None', NULL_HINT],
  ['Null', NULL_HINT],
  ['NULL', NULL_HINT],
  ['undefined', NULL_HINT],
  ['NaN', '. JSON has no NaN or Infinity; use a finite number'],
  ['Infinity', '. JSON has no NaN or Infinity; use a finite number'],
]);

function describe(text: string, { error, offset, length }: ParseError): string {
  const word = wordAt(text, offset);
  const here = offset >= text.length ? 'end of input' : word ? `word ${word}` : `character ${JSON.stringify(text[offset])}`;
  const hint = text[offset] === "'" ? QUOTES_HINT : word ? (WORD_HINTS.get(word) ?? `. Strings need double quotes: "${word}"`) : '';
  switch (printParseErrorCode(error)) {
    case 'PropertyNameExpected':
    case 'ValueExpected':
    case 'InvalidSymbol':
      if (text[offset] === '}' || text[offset] === ']') return `trailing comma before '${text[offset]}'; remove the last ','`;
      if (text[offset] === "'" || printParseErrorCode(error) === 'PropertyNameExpected')
        return `expected a property name in double quotes, found ${here}${hint}`;
      return `expected a value (object, array, string, number, true, false or null), found ${here}${hint}`;
    case 'CommaExpected':
    case 'CloseBraceExpected':
    case 'CloseBracketExpected': {
      const number = /(-?\d[\w.+-]*)$/.exec(text.slice(0, offset + length).trimEnd())?.[1];
      if (number && /\d/.test(text[offset] ?? ''))
        return `invalid number ${JSON.stringify(number.slice(0, 60))}: JSON numbers are decimal (no leading zeros, hex or suffixes)`;
      if (text.lastIndexOf('[', offset) > text.lastIndexOf('{', offset)) return `expected ',' or ']' in an array, found ${here}`;
      const name = [...text.slice(0, offset).matchAll(/"((?:[^"\\]|\\.)*)"\s*:/g)].at(-1)?.[1]?.slice(0, 60);
      return `expected ',' or '}' after the value of ${name === undefined ? 'a property' : `"${name}"`}, found ${here}${hint}`;
    }
    case 'ColonExpected':
      return `expected ':' after the property name "${/"((?:[^"\\]|\\.)*)"\s*$/.exec(text.slice(0, offset))?.[1]?.slice(0, 60) ?? ''}", found ${here}`;
    case 'UnexpectedEndOfString':
      return "unterminated string (missing closing '\"')";
    case 'InvalidEscapeCharacter':
      return (
        `invalid escape \\${/\\([^"\\/bfnrtu])/.exec(text.slice(offset, offset + length))?.[1] ?? ''} in a string; ` +
        `write a backslash as \\\\ (Windows paths: "C:\\\\traces" or "C:/traces")`
      );
    case 'EndOfFileExpected':
      return `unexpected ${here} after the end of the JSON value`;
    default:
      return `invalid token (a bad number, \\u escape or control character), found ${here}`;
  }
}

/** The offending line (clipped to 60 characters around the error) with a caret under the position. */
function excerpt(text: string, position: number): string {
  const lineStart = text.lastIndexOf('\n', position - 1) + 1;
  const lineEnd = text.indexOf('\n', position) < 0 ? text.length : text.indexOf('\n', position);
  const from = Math.max(lineStart, position - 40);
  const to = Math.min(lineEnd, position + 20);
  const prefix = from > lineStart ? '...' : '';
  const shown = text.slice(from, to).replace(/[\t\r]/g, ' ');
  return `    ${prefix}${shown}${to < lineEnd ? '...' : ''}\n    ${' '.repeat(prefix.length + position - from)}^`;
}
