// The byte-level tokenizer: a token is one UTF-8 byte (ids 0..255). It needs no vocabulary file, is
// exact for every string, and runs the same in Node and browsers. Decoding goes through a streaming
// TextDecoder so a multibyte character split over several tokens comes out whole, once its last
// byte arrives.

/** Token ids 0..255 are the bytes 0x00..0xff. */
export const BYTE_VOCAB_SIZE = 256;

export interface Tokenizer {
  readonly name: string;
  /** Text → token ids. */
  encode(text: string): number[];
  /** Token ids → text (a trailing incomplete UTF-8 sequence becomes U+FFFD). */
  decode(ids: readonly number[]): string;
  /** A decoder that takes one token at a time and returns the text it completes. */
  createStreamDecoder(): TokenStreamDecoder;
}

/**
 * Incremental detokenizer: `push(id)` returns the text that token completes ('' while inside a
 * multibyte character); `flush()` ends the stream (pending bytes become U+FFFD).
 */
export class TokenStreamDecoder {
  // ignoreBOM: keep a leading U+FEFF as text (the default would silently drop it, breaking round trips).
  private readonly decoder = new TextDecoder('utf-8', { ignoreBOM: true });
  /** Reused one-byte view: decoding a token allocates nothing but the returned string. */
  private readonly byte = new Uint8Array(1);

  push(id: number): string {
    if (Number.isInteger(id) && id >= 0 && id < BYTE_VOCAB_SIZE) {
      this.byte[0] = id;
      return this.decoder.decode(this.byte, { stream: true });
    }
    // Ids past the byte range only come from models with a larger vocabulary than this tokenizer
    // (the gpt2 shape with its 50257 ids); they have no text, so they are shown as <|id|>.
    return this.flush() + `<|${id}|>`;
  }

  flush(): string {
    return this.decoder.decode();
  }
}

const textEncoder = new TextEncoder();

export class ByteTokenizer implements Tokenizer {
  readonly name = 'bytes';

  encode(text: string): number[] {
    return Array.from(textEncoder.encode(text));
  }

  decode(ids: readonly number[]): string {
    const decoder = new TokenStreamDecoder();
    let text = '';
    for (const id of ids) text += decoder.push(id);
    return text + decoder.flush();
  }

  createStreamDecoder(): TokenStreamDecoder {
    return new TokenStreamDecoder();
  }
}

export const byteTokenizer: Tokenizer = new ByteTokenizer();
