// Token streaming over the engine's public API. The engine detokenizes each sampled token through
// the stream decoder its tokenizer made for the request (`createStreamDecoder()`, called while
// `addRequest()` prepares the request). The server hands the engine a tokenizer that wraps the real
// one: `track(listener, () => engine.addRequest(...))` makes the decoder created inside that call
// report every token's text to `listener`. No engine change is needed; if a future engine created
// decoders elsewhere, `track` reports that nothing was bound and the caller streams the final text
// at the end instead (correct, only not incremental; test/gpu/serve.test.ts checks it is incremental).
//
// Stop strings: the engine cuts the text right before a stop string, which may span several tokens.
// TextStream sends only text that can no longer be cut (see there), so what was sent is always a
// prefix of the final text.

import { TokenStreamDecoder, type Tokenizer } from '../engine/tokenizer.js';

export type TokenListener = (text: string) => void;

/** A decoder that passes each token's text to a listener as well as to the engine. */
class ReportingDecoder extends TokenStreamDecoder {
  constructor(
    private readonly inner: TokenStreamDecoder,
    private readonly listener: TokenListener,
  ) {
    super();
  }

  override push(id: number): string {
    const text = this.inner.push(id);
    this.listener(text);
    return text;
  }

  override flush(): string {
    return this.inner.flush();
  }
}

export class StreamingTokenizer implements Tokenizer {
  readonly name: string;
  private pending: TokenListener | undefined;
  private bound = false;

  constructor(private readonly base: Tokenizer) {
    this.name = base.name;
  }

  encode(text: string): number[] {
    return this.base.encode(text);
  }

  decode(ids: readonly number[]): string {
    return this.base.decode(ids);
  }

  createStreamDecoder(): TokenStreamDecoder {
    const inner = this.base.createStreamDecoder();
    const listener = this.pending;
    if (!listener) return inner;
    this.pending = undefined;
    this.bound = true;
    return new ReportingDecoder(inner, listener);
  }

  /** Runs `add` (which must call engine.addRequest once) with `listener` bound to the request's decoder. */
  track<T>(listener: TokenListener, add: () => T): { value: T; bound: boolean } {
    this.pending = listener;
    this.bound = false;
    try {
      const value = add();
      return { value, bound: this.bound };
    } finally {
      this.pending = undefined;
    }
  }
}

/**
 * What may be sent of a request's text so far. The engine looks for a stop string right after each
 * token's text is appended, from (length before that token - longest stop + 1) on, and cuts the text
 * where one starts. A token's text arrives here before that check, so with stop strings only the text
 * up to (length before this token - longest stop + 1) is safe: it can never be cut. That text is
 * sent; the rest follows with the next token or with the final text. Without stop strings nothing is
 * cut and everything is sent at once.
 */
export class TextStream {
  private raw = '';
  private sent = 0;
  /** -1 without stop strings; else the longest stop's length - 1. */
  private readonly holdBack: number;

  constructor(stop: string | readonly string[] | undefined) {
    const list = stop === undefined ? [] : typeof stop === 'string' ? [stop] : stop;
    this.holdBack = list.length === 0 ? -1 : Math.max(...list.map((s) => s.length - 1));
  }

  /** Adds a token's text; returns the text that can be sent now ('' when nothing new is safe). */
  push(text: string): string {
    const before = this.raw.length;
    this.raw += text;
    let upTo = this.holdBack < 0 ? this.raw.length : before - this.holdBack;
    // Never split a surrogate pair between two events.
    const last = this.raw.charCodeAt(upTo - 1);
    if (upTo > 0 && last >= 0xd800 && last <= 0xdbff) upTo--;
    if (upTo <= this.sent) return '';
    const out = this.raw.slice(this.sent, upTo);
    this.sent = upTo;
    return out;
  }

  /** The rest of the final text (the engine's, cut at a stop string) after what was sent. */
  finish(finalText: string): string {
    const rest = finalText.slice(this.sent);
    this.sent = finalText.length;
    return rest;
  }
}
