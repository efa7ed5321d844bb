// Server-sent events, read the way the WHATWG EventSource spec reads them: bytes → UTF-8 text (a character split
// between two network chunks is held until its last byte arrives) → lines (ended by CRLF, LF or CR, a CRLF split
// between two chunks counts once) → events (a blank line ends one; `data:` lines are joined with "\n"; `:` lines
// are comments; a single space after the colon is not part of the value).

/** A line longer than this is not an SSE stream from a chat server (a chat delta is a few hundred bytes). */
const MAX_LINE_CHARS = 1_000_000;

export class SseParser {
  #decoder = new TextDecoder('utf-8');
  #text = '';
  #skipLf = false;
  #event = '';
  #data = [];

  /** Feed the next bytes of the body; returns the events they complete: `{ event, data }` (event '' = "message"). */
  push(bytes) {
    this.#text += this.#decoder.decode(bytes, { stream: true });
    return this.#drain();
  }

  /**
   * The body ended; returns what the last bytes completed. EventSource would drop an event not ended by a blank
   * line; a chat server that closes right after `data: [DONE]` (no blank line) still said it, so it is kept.
   */
  end() {
    this.#text += this.#decoder.decode();
    const events = this.#drain();
    if (this.#text !== '') this.#line(this.#text, events);
    this.#text = '';
    this.#line('', events);
    return events;
  }

  #drain() {
    const events = [];
    let start = 0;
    const s = this.#text;
    if (this.#skipLf && s.length > 0) {
      if (s[0] === '\n') start = 1;
      this.#skipLf = false;
    }
    for (let i = start; i < s.length; i++) {
      const ch = s[i];
      if (ch !== '\n' && ch !== '\r') continue;
      this.#line(s.slice(start, i), events);
      if (ch === '\r') {
        if (i + 1 < s.length) {
          if (s[i + 1] === '\n') i++;
        } else this.#skipLf = true; // the LF of this CRLF may be in the next chunk
      }
      start = i + 1;
    }
    this.#text = s.slice(start);
    if (this.#text.length > MAX_LINE_CHARS) {
      throw new Error(`an SSE line longer than ${MAX_LINE_CHARS} characters with no line end`);
    }
    return events;
  }

  #line(line, events) {
    if (line === '') {
      if (this.#data.length > 0) events.push({ event: this.#event, data: this.#data.join('\n') });
      this.#data = [];
      this.#event = '';
      return;
    }
    if (line[0] === ':') return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value[0] === ' ') value = value.slice(1);
    if (field === 'data') this.#data.push(value);
    else if (field === 'event') this.#event = value;
    // id, retry and unknown fields mean nothing to a chat stream.
  }
}
