/**
 * The plugin kit (main/core/plugins/kit), as a plugin gets it from ctx.import('parley:kit'): the errors the
 * contract asks for, abort handling, working one step ahead, the one clause splitter and text normalization.
 * Its ONNX runner is exercised end to end by the melo-tts and piper-tts suites.
 */
import { describe, expect, it } from 'vitest';
import { ClauseSplitter } from '../../../main/core/plugins/kit/clauses.js';
import * as kit from '../../../main/core/plugins/kit/index.js';

describe('errors', () => {
  it('pluginError carries the code, details and cause the host reads', () => {
    const cause = new Error('ENOENT');
    const err = kit.pluginError('MODEL_CORRUPT', 'model.onnx is cut off', { details: { file: 'model.onnx' }, cause });
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ name: 'PluginError', code: 'MODEL_CORRUPT', message: 'model.onnx is cut off', details: { file: 'model.onnx' }, cause });
    expect(kit.pluginError('PLUGIN_FAILED', 'x')).not.toHaveProperty('details');
  });

  it('modelMissing says how to pull the model and which file was looked for', () => {
    const err = kit.modelMissing('vits-melo-tts-en', '/models/vits-melo-tts-en/model.onnx');
    expect(err.code).toBe('MODEL_MISSING');
    expect(err.message).toBe('model missing — run `npm run models -- pull vits-melo-tts-en` (looked for /models/vits-melo-tts-en/model.onnx)');
  });

  it('abortError is an AbortError carrying the signal\'s reason', () => {
    const ac = new AbortController();
    ac.abort('barge-in');
    expect(kit.abortError(ac.signal)).toMatchObject({ name: 'AbortError', code: 'ABORT_ERR', cause: 'barge-in' });
    expect(kit.abortError().name).toBe('AbortError');
  });
});

describe('abort handling', () => {
  it('abortable rejects at once on abort (telling the work to stop), and settles like the promise otherwise', async () => {
    expect(await kit.abortable(Promise.resolve(7), new AbortController().signal)).toBe(7);
    const ac = new AbortController();
    let stopped = false;
    const pending = kit.abortable(new Promise(() => {}), ac.signal, () => (stopped = true));
    ac.abort();
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' });
    expect(stopped).toBe(true);
    await expect(kit.abortable(Promise.resolve(1), ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('sleep waits, and rejects with an AbortError as soon as its signal aborts', async () => {
    await expect(kit.sleep(1, new AbortController().signal)).resolves.toBeUndefined();
    const ac = new AbortController();
    const waiting = kit.sleep(60_000, ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    await expect(kit.sleep(1, ac.signal)).rejects.toMatchObject({ name: 'AbortError' });
  });
});

describe('runAhead', () => {
  /** Work that finishes only when the test says so, recording what was started. */
  function gated() {
    const started: string[] = [];
    const gates = new Map<string, (v: string | undefined) => void>();
    const signals = new Map<string, AbortSignal>();
    const work = (item: string, signal: AbortSignal) => {
      started.push(item);
      signals.set(item, signal);
      return new Promise<string | undefined>((resolve) => gates.set(item, resolve));
    };
    /** Let the generator run until it has started `item`. */
    const reached = async (item: string) => {
      while (!started.includes(item)) await new Promise((r) => setImmediate(r));
    };
    const finish = (item: string) => gates.get(item)!(item.toUpperCase());
    /** Finish `item` with nothing to yield. */
    const skip = (item: string) => gates.get(item)!(undefined);
    return { started, signals, work, reached, finish, skip };
  }

  it('yields results in order, starts the next item as soon as one is handed over, skips undefined', async () => {
    const g = gated();
    const it = kit.runAhead(['a', 'b', 'c'], g.work, new AbortController().signal);
    const first = it.next();
    expect(g.started).toEqual(['a']);
    g.finish('a');
    expect(await first).toEqual({ value: 'A', done: false });
    expect(g.started).toEqual(['a', 'b']); // b is under way while the caller handles A
    const second = it.next();
    g.skip('b');
    await g.reached('c');
    g.finish('c');
    expect(await second).toEqual({ value: 'C', done: false });
    expect(await it.next()).toEqual({ value: undefined, done: true });
  });

  it('an abort rejects at once and cancels the work in flight; stopping early cancels it too', async () => {
    const g = gated();
    const ac = new AbortController();
    const it = kit.runAhead(['a', 'b'], g.work, ac.signal);
    const first = it.next();
    ac.abort();
    await expect(first).rejects.toMatchObject({ name: 'AbortError' });
    expect(g.signals.get('a')!.aborted).toBe(true);

    const h = gated();
    const early = kit.runAhead(['a', 'b'], h.work, new AbortController().signal);
    const one = early.next();
    h.finish('a');
    await one;
    await early.return(undefined);
    expect(h.signals.get('b')!.aborted).toBe(true);
  });
});

describe('splitClauses: the one splitter, for a whole text', () => {
  it('cuts at sentence ends, not after abbreviations or initials', () => {
    expect(kit.splitClauses('Hello there. J. Smith said hi! Is Dr. Who in? Prof. Lee is. Yes')).toEqual(['Hello there.', 'J. Smith said hi!', 'Is Dr. Who in?', 'Prof. Lee is.', 'Yes']);
  });

  it('gives every piece of the streaming splitter back whole: a clause is never cut again', () => {
    const reply =
      'Sure thing, I can help with that. We open at nine tomorrow, and close at five in the evening. ' +
      'Dr. Smith sees you at 3.30 p.m. on Friday, which is the earliest slot, or on Monday at ten, if that suits you better. ' +
      Array.from({ length: 40 }, (_, i) => `w${i}`).join(' ');
    const streaming = new ClauseSplitter();
    const pieces = [...streaming.push(reply), ...streaming.flush()];
    expect(pieces.length).toBeGreaterThan(4);
    for (const piece of pieces) expect(kit.splitClauses(piece)).toEqual([piece]);
  });

  it('cuts a long sentence at a comma, a very long run at a word boundary, and drops pieces with nothing to say', () => {
    const text = 'A rainbow is a meteorological phenomenon that is caused by reflection, refraction and dispersion of light in water droplets.';
    expect(kit.splitClauses(text)).toEqual(['A rainbow is a meteorological phenomenon that is caused by reflection,', 'refraction and dispersion of light in water droplets.']);
    const words = Array.from({ length: 60 }, (_, i) => `w${i}`).join(' ');
    expect(kit.splitClauses(words).join(' ')).toBe(words);
    expect(kit.splitClauses(words).length).toBeGreaterThanOrEqual(2);
    expect(kit.splitClauses(' … ')).toEqual([]);
    expect(kit.splitClauses('Okay. … Bye.')).toEqual(['Okay.', 'Bye.']);
  });

  it('cuts the first piece early only when asked to', () => {
    expect(kit.splitClauses('Sure thing, I can help with that.', { firstClauseWords: 2 })).toEqual(['Sure thing,', 'I can help with that.']);
  });
});

describe('normalizeEnglish: written English made speakable', () => {
  it.each([
    ['It costs $12.50.', 'It costs twelve dollars and fifty cents.'],
    ['$1, $0.99, $5 million', 'one dollar, ninety nine cents, five million dollars'],
    ['£3.20 or €1.01', 'three pounds and twenty pence or one euro and one cent'],
    ['Meet me at 3:30 pm.', 'Meet me at three thirty p m.'],
    ['at 10:05 a.m. Then lunch.', 'at ten oh five a m. Then lunch.'],
    ['open 9:00 to 17:30', "open nine o'clock to five thirty p m"],
    ['at 3pm', 'at three p m'],
    ['I have 21 cats and 1,234 dogs', 'I have twenty one cats and one thousand two hundred thirty four dogs'],
    ['in 2024, 1905 and 2005', 'in twenty twenty four, nineteen oh five and two thousand five'],
    ['3.14 and -5 and 50%', 'three point one four and minus five and fifty percent'],
    ['the 2nd and 23rd and 100th', 'the second and twenty third and one hundredth'],
    ['Call (555) 123-4567.', 'Call five five five, one two three, four five six seven.'],
    ['Dr. Smith on Main St. near St. Louis', 'Doctor Smith on Main Street near Saint Louis'],
    ['Mrs. Jones vs. Mr. Brown, etc.', 'Misses Jones versus Mister Brown, et cetera'],
    ['room 007, No. 5, Q&A', 'room zero zero seven, number five, Q and A'],
    ['It’s “fine” — really', "It's \"fine\", really"],
    ['**Great!** 👍\n- `one` item', 'Great!\none item'],
  ])('%s', (input, spoken) => {
    expect(kit.normalizeEnglish(input)).toBe(spoken);
  });
});

