// MeloTTS text -> (token ids, tones), as sherpa-onnx's MeloTtsLexicon does it for the English export
// (sherpa-onnx/csrc/melo-tts-lexicon.cc, offline-tts-vits-impl.h), so the model sees what it sees under sherpa:
//  - tokens.txt is "<symbol> <id>" per line; " " maps to "_"; full-width ，。！？ map to their ASCII twins;
//  - lexicon.txt is "<word> <phone>... <tone>..." (tones already include tone_start); a phone not in tokens.txt
//    drops the line, duplicates keep the first;
//  - text is lowercased and split into words and punctuation; a word is looked up in the lexicon, then in
//    tokens.txt (punctuation gets tone 0);
//  - the token list is cut after each . ! ? , and, when the metadata says add_blank, every piece becomes
//    [0, t1, 0, t2, ..., tn, 0] (AddBlank, blank id 0) before the pieces are joined — so "0 0" at each cut.
// Where this departs from sherpa, on purpose:
//  - "v" maps to "V" for English models, as MeloTTS's own post_replace_ph() does (sherpa means to, but compares
//    the metadata language to "en" while the export writes "English");
//  - ; : map to "," and brackets/quotes/other symbols are dropped, instead of reaching Korean-only symbols;
//  - out-of-vocabulary words: possessive "'s", then acronyms spelled, then espeak-ng's guess (ipa-to-arpabet.js),
//    and only then sherpa's letter-by-letter spelling.
import { readFile } from 'node:fs/promises';
import { ipaToArpabet } from './ipa-to-arpabet.js';

const PIECE_END = new Set(['.', '!', '?', ',', '。', '！', '？', '，']);
const PUNCT_TOKENS = new Set(['!', '?', '…', ',', '.', "'", '-']);

/** `corrupt(message)` makes the MODEL_CORRUPT error (the kit's pluginError) that parsing throws. */
export function parseTokens(text, file, corrupt) {
  // Read as sherpa-onnx's ReadTokens() (csrc/symbol-table.cc) reads it, so every file sherpa accepts loads here:
  // fields split on ASCII whitespace only (a symbol may be a Unicode space, e.g. U+3000); a line holding only an
  // id is the space symbol " "; a symbol listed twice keeps its first id (unordered_map::insert), never an error.
  // Blank lines are skipped. A line with more than two fields, or a non-numeric id, is what sherpa refuses too.
  const token2id = new Map();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/^[ \t\r\f\v]+|[ \t\r\f\v]+$/g, '');
    if (line === '') return;
    const parts = line.split(/[ \t\r\f\v]+/);
    const [sym, id] = parts.length === 1 ? [' ', parts[0]] : parts;
    if (parts.length > 2 || !/^-?\d+$/.test(id)) throw corrupt(`${file} line ${i + 1}: expected "<symbol> <id>" (or "<id>" for the space), got "${raw.slice(0, 60)}"`);
    if (!token2id.has(sym)) token2id.set(sym, Number(id));
  });
  if (!token2id.has('_')) throw corrupt(`${file} has no "_" (blank/pad) symbol: it is not a MeloTTS tokens.txt`);
  return token2id;
}

/** The token table as sherpa-onnx's InitTokens() completes it. */
export function completeTokens(token2id, language) {
  token2id.set(' ', token2id.get('_'));
  for (const [ascii, wide] of [[',', '，'], ['.', '。'], ['!', '！'], ['?', '？']]) {
    if (token2id.has(ascii) && !token2id.has(wide)) token2id.set(wide, token2id.get(ascii));
    if (!token2id.has(ascii) && token2id.has(wide)) token2id.set(ascii, token2id.get(wide));
  }
  if (!token2id.has('、') && token2id.has('，')) token2id.set('、', token2id.get('，'));
  if (/^(en|english)$/i.test(language) && token2id.has('V')) token2id.set('v', token2id.get('V'));
  return token2id;
}

export function parseLexicon(text, file, token2id, corrupt) {
  const words = new Map();
  let unknownPhones = 0;
  let lines = 0;
  let firstUnknown;
  text.split('\n').forEach((raw, i) => {
    const parts = raw.trim().split(/\s+/);
    if (parts.length < 2 || parts[0] === '') return;
    lines++;
    const word = parts[0].toLowerCase();
    if (words.has(word)) return;
    const rest = parts.slice(1);
    if (rest.length % 2 !== 0) throw corrupt(`${file} line ${i + 1}: needs as many tones as phones ("${raw.slice(0, 60)}")`);
    const n = rest.length / 2;
    const ids = [];
    const tones = [];
    for (let k = 0; k < n; k++) {
      const id = token2id.get(rest[k]);
      const tone = Number(rest[k + n]);
      if (!Number.isInteger(tone) || tone < 0 || tone > 50) throw corrupt(`${file} line ${i + 1}: "${rest[k + n]}" is not a tone (0-50)`);
      if (id === undefined) {
        firstUnknown ??= `${rest[k]} (line ${i + 1})`;
        unknownPhones++;
        return;
      }
      ids.push(id);
      tones.push(tone);
    }
    words.set(word, { ids, tones });
  });
  return { words, lines, unknownPhones, firstUnknown };
}

/** sherpa-onnx AddBlank(): [0, t1, 0, t2, ..., tn, 0]. */
export function addBlank(list, blank = 0) {
  const out = new Array(list.length * 2 + 1).fill(blank);
  list.forEach((v, i) => (out[2 * i + 1] = v));
  return out;
}

/**
 * Words and punctuation, like sherpa-onnx's SplitUtf8 + MergeCharactersIntoWords for English: letters, digits and
 * apostrophes make words; whitespace separates; any other character stands alone.
 */
export function splitWords(text) {
  return text.match(/[\p{L}\p{M}\p{N}']+|[^\s\p{L}\p{M}\p{N}']/gu) ?? [];
}

/** Punctuation the English model knows; everything else becomes a space (or a comma, for ; and :). */
export function cleanPunctuation(text) {
  return text
    .replace(/[：、；;:]/g, ',')
    .replace(/。/g, '.')
    .replace(/？/g, '?')
    .replace(/！/g, '!')
    .replace(/[^\s\p{L}\p{M}\p{N}'!?…,.\-，。！？]/gu, ' ');
}

export class MeloFrontend {
  /**
   * @param {object} o
   * @param {Map<string, number>} o.token2id
   * @param {Map<string, {ids: number[], tones: number[]}>} o.words
   * @param {boolean} o.addBlank
   * @param {number} o.toneStart
   * @param {(word: string) => Promise<string | undefined>} [o.espeak] IPA for a word, when espeak-ng is available
   * @param {(msg: string, fields?: object) => void} [o.debug]
   */
  constructor({ token2id, words, addBlank, toneStart, espeak, debug }) {
    Object.assign(this, { token2id, words, addBlank: Boolean(addBlank), toneStart, espeak, debug: debug ?? (() => {}) });
  }

  /** One chunk of (normalized) text -> the model's x and tones. */
  async encode(text) {
    const pieces = [];
    let current = { ids: [], tones: [] };
    const oov = [];
    for (const raw of splitWords(cleanPunctuation(text))) {
      const word = raw.replace(/^'+|'+$/g, '');
      if (word === '' && raw !== "'") continue;
      const found = await this.wordToIds(word || raw, oov);
      if (!found || found.ids.length === 0) {
        this.debug('melo-tts: no pronunciation, skipped', { word: raw });
        continue;
      }
      current.ids.push(...found.ids);
      current.tones.push(...found.tones);
      if (PIECE_END.has(word)) {
        pieces.push(current);
        current = { ids: [], tones: [] };
      }
    }
    if (current.ids.length) pieces.push(current);
    const x = [];
    const tones = [];
    for (const p of pieces) {
      x.push(...(this.addBlank ? addBlank(p.ids) : p.ids));
      tones.push(...(this.addBlank ? addBlank(p.tones) : p.tones));
    }
    return { x, tones, oov };
  }

  async wordToIds(original, oov) {
    const word = original.toLowerCase();
    const known = this.words.get(word);
    if (known) return known;
    if (PUNCT_TOKENS.has(word) || PIECE_END.has(word)) {
      const id = this.token2id.get(word);
      return id === undefined ? undefined : { ids: [id], tones: [0] };
    }
    oov.push(original);
    const possessive = /^(.+?)(?:'s|s')$/.exec(word);
    if (possessive && this.words.has(possessive[1])) return this.withSuffix(this.words.get(possessive[1]));
    if (/^[A-Z]{2,6}$/.test(original)) return this.spell(word); // an acronym: say its letters
    if (this.espeak) {
      const guessed = await this.fromEspeak(word);
      if (guessed) return guessed;
    }
    return this.spell(word);
  }

  /** "'s": s after a voiceless consonant, "ih z" after a sibilant, z otherwise (the English plural rule). */
  withSuffix(base) {
    const last = this.idToPhone(base.ids[base.ids.length - 1]);
    const phones = ['s', 'z', 'sh', 'zh', 'ch', 'jh'].includes(last) ? ['ih', 'z'] : ['p', 't', 'k', 'f', 'th'].includes(last) ? ['s'] : ['z'];
    const ids = phones.map((p) => this.token2id.get(p));
    if (ids.some((id) => id === undefined)) return base;
    return { ids: [...base.ids, ...ids], tones: [...base.tones, ...phones.map((p) => (p === 'ih' ? 1 : 0) + this.toneStart)] };
  }

  idToPhone(id) {
    this.id2token ??= new Map([...this.token2id].map(([k, v]) => [v, k]).reverse());
    return this.id2token.get(id);
  }

  /** Letter by letter, each letter as the lexicon says it (sherpa-onnx's fallback). */
  spell(word) {
    const ids = [];
    const tones = [];
    for (const ch of word) {
      const entry = this.words.get(ch);
      if (!entry) continue;
      ids.push(...entry.ids);
      tones.push(...entry.tones);
    }
    return { ids, tones };
  }

  async fromEspeak(word) {
    // Names come back within a call ("Siobhan ... thanks, Siobhan"); espeak-ng costs tens of ms a word.
    this.espeakCache ??= new Map();
    if (this.espeakCache.has(word)) return this.espeakCache.get(word);
    const found = await this.espeakLookup(word);
    if (this.espeakCache.size >= 5000) this.espeakCache.clear();
    this.espeakCache.set(word, found);
    return found;
  }

  async espeakLookup(word) {
    let ipa;
    try {
      ipa = await this.espeak(word);
    } catch (err) {
      this.debug('melo-tts: espeak-ng failed on a word', { word, error: err?.message });
      return undefined;
    }
    if (!ipa) return undefined;
    const { phones, tones } = ipaToArpabet(ipa);
    const ids = phones.map((p) => this.token2id.get(p));
    if (ids.length === 0 || ids.some((id) => id === undefined)) return undefined;
    return { ids, tones: tones.map((t) => t + this.toneStart) };
  }
}

/**
 * Load tokens.txt + lexicon.txt. Throws MODEL_CORRUPT (made with `pluginError`, the kit's) naming the file for
 * anything malformed.
 */
export async function loadMeloFrontend({ tokensPath, lexiconPath, metadata, espeak, log, pluginError }) {
  const corrupt = (message) => pluginError('MODEL_CORRUPT', message);
  const [tokensText, lexiconText] = await Promise.all([readFile(tokensPath, 'utf8'), readFile(lexiconPath, 'utf8')]);
  const token2id = completeTokens(parseTokens(tokensText, tokensPath, corrupt), metadata.language ?? '');
  const { words, lines, unknownPhones, firstUnknown } = parseLexicon(lexiconText, lexiconPath, token2id, corrupt);
  if (lines === 0) throw corrupt(`${lexiconPath} has no entries`);
  if (unknownPhones > Math.max(10, lines * 0.01)) {
    throw corrupt(`${lexiconPath} uses phones that ${tokensPath} does not have (${unknownPhones} of ${lines} lines, first: ${firstUnknown}); the two files do not belong together`);
  }
  if (unknownPhones > 0) log.warn('melo-tts: lexicon lines with unknown phones were skipped', { count: unknownPhones, first: firstUnknown });
  return new MeloFrontend({
    token2id,
    words,
    addBlank: Number(metadata.add_blank ?? 0) === 1,
    toneStart: Number(metadata.tone_start ?? 0),
    espeak,
    debug: (msg, fields) => log.debug(msg, fields),
  });
}
