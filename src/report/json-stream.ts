// A streaming parser for the Kineto shape: one top-level JSON object whose `traceEvents` array is
// handed out element by element, so a trace of any size is read in memory bounded by its largest
// single event. Text comes in chunks of any size (split anywhere, even inside a string); each
// complete element is cut out by a small bracket/string scanner and given to the native JSON.parse.
// Other top-level values (deviceProperties, wgprof, ...) are small and parsed whole.

import { WgprofError, errorMessage } from '../util/errors.js';

export interface TraceJsonSink {
  /** A top-level key other than `traceEvents`, its parsed value and its raw JSON text. */
  header(key: string, value: unknown, raw: string): void;
  /** The `traceEvents` key was reached (its position among the top-level keys). */
  eventsStart(): void;
  /** One element of `traceEvents`, any JSON value (the caller decides what is junk). */
  element(value: unknown, index: number): void;
}

/** Longest single value (an event, or a top-level value such as `wgprof`) the parser will hold, in characters. */
export const MAX_VALUE_CHARS = 256 * 1024 * 1024;

type State = 'start' | 'key' | 'colon' | 'value' | 'events-first' | 'events-next' | 'after-value' | 'done';

const WS = new Set([0x20, 0x0a, 0x0d, 0x09]);
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** Parses a trace's JSON text pushed in chunks; throws WgprofError (TRACE_PARSE_ERROR, TRACE_NOT_KINETO) naming the place. */
export class TraceJsonParser {
  private buf = '';
  private pos = 0;
  /** Characters dropped from the front of `buf` so far (for error positions). */
  private dropped = 0;
  private state: State = 'start';
  private key = '';
  private keys = 0;
  private sawEvents = false;
  private index = 0;
  // The value being scanned: where it starts in buf, how far the scan got, bracket depth, in a string.
  private vStart = -1;
  private vScan = 0;
  private vDepth = 0;
  private vInString = false;

  constructor(
    private readonly source: string,
    private readonly sink: TraceJsonSink,
  ) {}

  /** Elements of traceEvents seen so far. */
  get elements(): number {
    return this.index;
  }

  push(text: string): void {
    const keep = this.vStart >= 0 ? this.vStart : this.pos;
    if (keep > 0) {
      this.dropped += keep;
      this.buf = this.buf.slice(keep);
      this.pos -= keep;
      if (this.vStart >= 0) {
        this.vStart -= keep;
        this.vScan -= keep;
      }
    }
    if (this.buf.length + text.length > MAX_VALUE_CHARS) {
      throw new WgprofError(
        'TRACE_PARSE_ERROR',
        `${this.source}: one value near character ${this.dropped} is longer than ${MAX_VALUE_CHARS / 2 ** 20} Mi characters (${this.where()}); a ` +
          `trace event that large is not one wgprof or torch writes: is the file a trace?`,
      );
    }
    this.buf += text;
    this.run(false);
  }

  /** The text is complete: throws when the JSON is unfinished. */
  end(): void {
    this.run(true);
    if (this.state !== 'done') {
      if (this.state === 'start')
        throw new WgprofError('TRACE_PARSE_ERROR', `${this.source} is empty; expected a Kineto trace (a JSON object with "traceEvents").`);
      throw new WgprofError(
        'TRACE_PARSE_ERROR',
        `${this.source} ends before its JSON does (${this.where()}, ${this.dropped + this.buf.length} characters read): the file is incomplete. Was ` +
          `it still being written, or cut short by a copy?`,
      );
    }
    if (!this.sawEvents)
      throw new WgprofError('TRACE_NOT_KINETO', `${this.source} has no "traceEvents" array; expected a Kineto trace as torch.profiler or wgprof writes it.`);
  }

  private where(): string {
    if (this.state === 'events-first' || this.state === 'events-next') return `in traceEvents[${this.index}]`;
    if (this.state === 'start') return 'at the start';
    if (this.state === 'done') return 'after the top-level object';
    return this.keys > 0 ? `after top-level key ${JSON.stringify(this.key)}` : 'in the top-level object';
  }

  private fail(message: string): never {
    throw new WgprofError(
      'TRACE_PARSE_ERROR',
      `${this.source} is not valid JSON at character ${this.dropped + this.pos} (${this.where()}): ${message}; expected a Kineto trace ` +
        `(*.pt.trace.json or *.pt.trace.json.gz).`,
    );
  }

  /** Skips whitespace; the next character code, or -1 when the buffer ran out. */
  private peek(): number {
    const buf = this.buf;
    let p = this.pos;
    while (p < buf.length && WS.has(buf.charCodeAt(p))) p++;
    this.pos = p;
    return p < buf.length ? buf.charCodeAt(p) : -1;
  }

  private run(final: boolean): void {
    for (;;) {
      const c = this.peek();
      if (c < 0 && !(final && this.vStart >= 0)) return;
      switch (this.state) {
        case 'start':
          if (c === 0x7b) {
            this.pos++;
            this.state = 'key';
          } else if (c === 0x5b) {
            throw new WgprofError(
              'TRACE_NOT_KINETO',
              `${this.source} is a JSON array: the legacy autograd-profiler format (torch built without Kineto); expected an object with "traceEvents".`,
            );
          } else this.fail(`found ${describeChar(c)} where a "{" should open the trace`);
          break;
        case 'key': {
          if (c === 0x7d && this.keys === 0) {
            this.pos++;
            this.state = 'done';
            break;
          }
          if (c !== QUOTE) this.fail(`found ${describeChar(c)} where a key string should be`);
          const end = this.scan(final);
          if (end < 0) return;
          this.key = this.parseValue(end) as string;
          this.keys++;
          this.state = 'colon';
          break;
        }
        case 'colon':
          if (c !== 0x3a) this.fail(`found ${describeChar(c)} where ":" should follow key ${JSON.stringify(this.key)}`);
          this.pos++;
          this.state = 'value';
          break;
        case 'value':
          if (this.key === 'traceEvents' && c === 0x5b && !this.sawEvents) {
            this.pos++;
            this.sawEvents = true;
            this.sink.eventsStart();
            this.state = 'events-first';
            break;
          } else {
            const end = this.scan(final);
            if (end < 0) return;
            const raw = this.buf.slice(this.vStart, end);
            const value = this.parseValue(end);
            if (this.key === 'traceEvents')
              throw new WgprofError(
                'TRACE_NOT_KINETO',
                `${this.source}: "traceEvents" is ${Array.isArray(value) ? 'given twice' : `a ${value === null ? 'null' : typeof value}`}; expected ` +
                  `one array of events.`,
              );
            this.sink.header(this.key, value, raw);
            this.state = 'after-value';
          }
          break;
        case 'events-first':
        case 'events-next':
          if (c === 0x5d) {
            this.pos++;
            this.state = 'after-value';
            break;
          }
          if (this.state === 'events-next') {
            if (c !== 0x2c) this.fail(`found ${describeChar(c)} where "," or "]" should follow an event`);
            this.pos++;
            this.state = 'events-first';
            if (this.peek() === 0x5d) this.fail('"]" follows a ","');
            break;
          }
          {
            const end = this.scan(final);
            if (end < 0) return;
            const value = this.parseValue(end);
            this.sink.element(value, this.index++);
            this.state = 'events-next';
          }
          break;
        case 'after-value':
          if (c === 0x2c) {
            this.pos++;
            this.state = 'key';
          } else if (c === 0x7d) {
            this.pos++;
            this.state = 'done';
          } else this.fail(`found ${describeChar(c)} where "," or "}" should follow the value of ${JSON.stringify(this.key)}`);
          break;
        case 'done':
          throw new WgprofError(
            'TRACE_PARSE_ERROR',
            `${this.source} has data after its JSON object (${describeChar(c)} at character ${this.dropped + this.pos}): trailing garbage. Expected ` +
              `the file to end with the trace's closing "}"; was something appended to it?`,
          );
      }
    }
  }

  /** JSON.parse of buf[vStart, end); resets the value scan. */
  private parseValue(end: number): unknown {
    const text = this.buf.slice(this.vStart, end);
    this.vStart = -1;
    try {
      const value: unknown = JSON.parse(text);
      this.pos = end;
      return value;
    } catch (error) {
      this.fail(errorMessage(error));
    }
  }

  /**
   * Finds the end of the JSON value starting at `pos` (resumable across pushes). Returns the index just
   * past it, or -1 when more text is needed.
   */
  private scan(final: boolean): number {
    const buf = this.buf;
    const n = buf.length;
    if (this.vStart < 0) {
      this.vStart = this.pos;
      this.vScan = this.pos;
      this.vDepth = 0;
      this.vInString = false;
    }
    let i = this.vScan;
    let depth = this.vDepth;
    let inString = this.vInString;
    const first = buf.charCodeAt(this.vStart);
    if (first !== QUOTE && first !== 0x7b && first !== 0x5b) {
      // A number, true, false or null: ends at a delimiter.
      while (i < n) {
        const c = buf.charCodeAt(i);
        if (c === 0x2c || c === 0x5d || c === 0x7d || WS.has(c)) return i;
        i++;
      }
      this.vScan = i;
      return final ? n : -1;
    }
    while (i < n) {
      if (inString) {
        const q = buf.indexOf('"', i);
        if (q < 0) {
          i = n;
          break;
        }
        let b = q - 1;
        while (buf.charCodeAt(b) === BACKSLASH) b--;
        i = q + 1;
        if ((q - 1 - b) % 2 === 1) continue; // an escaped quote
        inString = false;
        if (depth === 0) return this.done(i);
        continue;
      }
      const c = buf.charCodeAt(i);
      if (c === QUOTE) inString = true;
      else if (c === 0x7b || c === 0x5b) depth++;
      else if (c === 0x7d || c === 0x5d) {
        depth--;
        if (depth === 0) return this.done(i + 1);
      }
      i++;
    }
    this.vScan = i;
    this.vDepth = depth;
    this.vInString = inString;
    return -1;
  }

  private done(end: number): number {
    this.vScan = end;
    return end;
  }
}

function describeChar(c: number): string {
  if (c < 0) return 'the end of the text';
  return c >= 0x20 && c < 0x7f ? JSON.stringify(String.fromCharCode(c)) : `character U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
}
