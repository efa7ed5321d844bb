/**
 * melo-tts reads tokens.txt exactly as leniently as sherpa-onnx's ReadTokens() (csrc/symbol-table.cc): a line
 * holding only an id is the space symbol, and a symbol listed twice keeps its first id instead of being refused.
 * A file sherpa loads must never be reported as a corrupt model here.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as kit from '../../main/core/plugins/kit/index.js';
// @ts-expect-error -- a plugin's own module, plain JS
import { loadMeloFrontend, parseTokens } from '../../plugins/melo-tts/melo-frontend.js';
import { MELO_EN_SYMBOLS, meloMetadata, writeMeloModel } from '../helpers/tiny-tts-models.ts';

const corrupt = (message: string) => kit.pluginError('MODEL_CORRUPT', message);
const parse = (text: string): Map<string, number> => parseTokens(text, 'tokens.txt', corrupt);
const log = { debug() {}, info() {}, warn() {}, error() {} };

let root: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'parley-melo-tokens-'));
  await writeMeloModel(join(root, 'model'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('tokens.txt, read as sherpa-onnx reads it', () => {
  it('a line with only an id is the space symbol', () => {
    const t = parse('_ 0\n  1\na 2\n');
    expect(t.get(' ')).toBe(1);
    expect(t.get('a')).toBe(2);
  });

  it('a symbol listed twice keeps its first id, and is not an error', () => {
    const t = parse('_ 0\nV 14\nx 3\nV 99\n');
    expect(t.get('V')).toBe(14);
    expect(t.get('x')).toBe(3);
  });

  it('splits on ASCII whitespace only: a Unicode space (U+3000) is a symbol, tabs and CRLF are separators', () => {
    const t = parse('_\t0\r\n\u3000 5\r\n\r\nb  6  \r\n');
    expect(t.get('\u3000')).toBe(5);
    expect(t.get('b')).toBe(6);
    expect(t.has(' ')).toBe(false);
  });

  it('still refuses what sherpa refuses: three fields, or an id that is not a number', () => {
    expect(() => parse('_ 0\na b 1\n')).toThrow(/line 2: expected "<symbol> <id>"/);
    expect(() => parse('_ 0\na b\n')).toThrow(/line 2/);
    let code: unknown = null;
    try {
      parse('_ 0\na 1 2\n');
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe('MODEL_CORRUPT');
  });

  it('a real-layout tokens.txt with a space line and a duplicate loads and encodes as the clean file does', async () => {
    const dir = join(root, 'model');
    const clean = await loadMeloFrontend({ tokensPath: join(dir, 'tokens.txt'), lexiconPath: join(dir, 'lexicon.txt'), metadata: meloMetadata(), log, pluginError: kit.pluginError });
    const lenient = join(root, 'tokens-lenient.txt');
    const lines = MELO_EN_SYMBOLS.map((s, i) => `${s} ${i}`);
    lines.splice(20, 0, `  ${MELO_EN_SYMBOLS.length}`); // the space symbol, id only
    lines.push('V 7'); // a duplicate: V stays 14
    await writeFile(lenient, lines.join('\n') + '\n');
    const fe = await loadMeloFrontend({ tokensPath: lenient, lexiconPath: join(dir, 'lexicon.txt'), metadata: meloMetadata(), log, pluginError: kit.pluginError });
    expect((await fe.encode('very')).x).toEqual([0, 14, 0, 39, 0, 85, 0, 65, 0]);
    expect(await fe.encode('Hello, world.')).toEqual(await clean.encode('Hello, world.'));
  });
});
