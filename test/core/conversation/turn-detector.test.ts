import { describe, expect, it } from 'vitest';
import { TurnDetector, type TurnDetectorOptions, type Utterance } from '../../../main/core/conversation/turn-detector.ts';

const W = 512; // 32 ms at 16 kHz
const opts: TurnDetectorOptions = { sampleRate: 16000, silenceMs: 600, minSpeechMs: 150, bargeInMinMs: 250, maxTurnMs: 5_000, speculativeMs: 300 };

function run(pattern: string, agentActive = false, o = opts) {
  // Each character is one 32 ms window: 'S' speech (voice-level energy), '.' silence (far below it). Window
  // samples carry their index (in units of 1e-6).
  const log: string[] = [];
  const ends: Utterance[] = [];
  const d = new TurnDetector(o, {
    turnStart: (i) => log.push(`start@${Math.round(i.atMs)}`),
    pause: () => log.push('pause'),
    resume: () => log.push('resume'),
    end: (u) => {
      ends.push(u);
      log.push(`end@${Math.round(d.clockMs)}`);
    },
    discard: () => log.push('discard'),
  });
  d.agentActive = agentActive;
  [...pattern].forEach((c, i) => d.push(new Float32Array(W).fill((c === 'S' ? 0.1 : 0) + i * 1e-6), c === 'S' ? 0.9 : 0.05));
  return { log, ends };
}

describe('TurnDetector', () => {
  it('starts a turn after minSpeechMs and ends it after silenceMs of silence', () => {
    const { log, ends } = run('..........SSSSSSSSSS' + '.'.repeat(25));
    expect(log).toEqual(['start@480', 'pause', 'end@1248']);
    expect(ends[0]!.speechMs).toBeCloseTo(320);
    expect(ends[0]!.speechEndMs).toBeCloseTo(640);
    // Pre-roll (≤ 300 ms → 9 windows) + speech + ≥ 200 ms tail (7 windows), not the whole silence.
    const firstWindow = ends[0]!.samples[0]!;
    expect(firstWindow).toBeCloseTo(1e-6, 9);
    expect(ends[0]!.samples.length / W).toBe(9 + 10 + 7);
  });

  it('ignores clicks and coughs shorter than minSpeechMs', () => {
    expect(run('....SSS' + '.'.repeat(20)).log).toEqual(['discard']);
  });

  it('needs bargeInMinMs of speech while the agent talks, so "mm-hm" does not interrupt', () => {
    expect(run('....SSSSSSS' + '.'.repeat(20), true).log).toEqual(['discard']); // 224 ms
    expect(run('....SSSSSSSS' + '.'.repeat(20), true).log[0]).toBe('start@384'); // 256 ms
  });

  it('bridges short pauses inside a turn, resuming after a speculative pause', () => {
    const { log, ends } = run('SSSSSSSSSS' + '.'.repeat(12) + 'SSSSS' + '.'.repeat(20));
    expect(log).toEqual(['start@160', 'pause', 'resume', 'pause', 'end@1472']);
    expect(ends).toHaveLength(1);
  });

  it('cuts a turn at maxTurnMs', () => {
    const { ends } = run('S'.repeat(200), false, { ...opts, maxTurnMs: 2_000 });
    expect(ends[0]!.truncated).toBe(true);
    expect(ends.length).toBeGreaterThanOrEqual(2);
  });
});

describe('TurnDetector speech length', () => {
  it('counts the span of speaking, dips between syllables included, but not a click followed by silence', () => {
    // 8 windows (256 ms) of speaking with a one-window dip: still 256 ms of speaking → barge-in at 256 ms.
    expect(run('....SSS.SSSS' + '.'.repeat(20), true).log[0]).toBe('start@384');
    // Counting only voiced windows would have waited a window longer.
    expect(run('....SSS.SSSS' + '.'.repeat(20), true, { ...opts, bargeInMinMs: 256 }).log[0]).toBe('start@384');
    // A click then mostly silence within the span: voiced share too low.
    expect(run('....SS......S' + '.'.repeat(20), true).log).toEqual(['discard']);
  });
});

describe('TurnDetector onset', () => {
  it("backdates the onset over the VAD's ramp-up, so barge-in comes 256 ms after the caller really began", () => {
    const log: string[] = [];
    const d = new TurnDetector(opts, { turnStart: (i) => log.push(`start@${i.atMs} onset@${i.onsetMs}`) });
    d.agentActive = true;
    const probs = [0.01, 0.01, 0.01, 0.3, 0.44, ...Array(10).fill(0.95)];
    for (const p of probs) d.push(new Float32Array(W), p);
    // Soft windows at 96 and 128 ms start the speech; 256 ms later the agent is interrupted.
    expect(log).toEqual(['start@352 onset@96']);
  });
});

describe('TurnDetector end of speech', () => {
  /** 'S' voiced speech window, 'h' a window the VAD still calls speech but with no voice in it (its hangover), '.' silence. */
  function ends(pattern: string) {
    const out: { u: Utterance; at: number; endedBy: string }[] = [];
    const d = new TurnDetector(opts, { end: (u, info) => out.push({ u, at: d.clockMs, endedBy: info.endedBy }) });
    for (const c of pattern) d.push(new Float32Array(W).fill(c === 'S' ? 0.1 : 0.0005), c === '.' ? 0.05 : 0.9);
    return out;
  }

  it("places the end at the last voiced block, not at the VAD's hangover, and counts the silence from there", () => {
    const plain = ends('..' + 'S'.repeat(10) + '.'.repeat(25));
    const hangover = ends('..' + 'S'.repeat(10) + 'hh' + '.'.repeat(25));
    expect(plain[0]!.u.speechEndMs).toBeCloseTo(12 * 32);
    // The two hangover windows are not speech: the end stays where the voice stopped, and the turn ends just as soon.
    expect(hangover[0]!.u.speechEndMs).toBeCloseTo(12 * 32);
    expect(hangover[0]!.at).toBe(plain[0]!.at);
    expect(hangover[0]!.endedBy).toBe('silence');
  });

  it('moves the end back by at most two windows (a quiet stretch the VAD is sure of stays speech)', () => {
    const long = ends('..' + 'S'.repeat(10) + 'hhhh' + '.'.repeat(25));
    expect(long[0]!.u.speechEndMs).toBeCloseTo((12 + 2) * 32);
  });

  it('places the end inside a window to the 10 ms block', () => {
    const out: Utterance[] = [];
    const d = new TurnDetector(opts, { end: (u) => out.push(u) });
    for (let i = 0; i < 10; i++) d.push(new Float32Array(W).fill(0.1), 0.9);
    const last = new Float32Array(W).fill(0.0005);
    last.fill(0.1, 0, 160); // voice in the first 10 ms only
    d.push(last, 0.9);
    for (let i = 0; i < 25; i++) d.push(new Float32Array(W), 0.05);
    expect(out[0]!.speechEndMs).toBeCloseTo(320 + 10);
  });

  it('endNow ends a turn in silence at once, and refuses while the caller is speaking', () => {
    const out: { u: Utterance; endedBy: string }[] = [];
    const d = new TurnDetector(opts, { end: (u, info) => out.push({ u, endedBy: info.endedBy }) });
    for (let i = 0; i < 10; i++) d.push(new Float32Array(W).fill(0.1), 0.9);
    expect(d.endNow()).toBe(false);
    for (let i = 0; i < 7; i++) d.push(new Float32Array(W), 0.05);
    expect(d.turnAudio()!.length).toBe(17 * W);
    expect(d.endNow()).toBe(true);
    expect(out).toHaveLength(1);
    expect(out[0]!.endedBy).toBe('turn-model');
    expect(out[0]!.u.speechEndMs).toBeCloseTo(320);
    expect(d.endNow()).toBe(false);
    expect(d.turnAudio()).toBeNull();
  });
});

describe('isBackchannel', () => {
  const LIST = 'mm-hm, mhm, yeah, okay, right, i see, uh-huh';
  it('takes nothing, or only listed words and phrases, as a backchannel — case, punctuation and hyphens aside', async () => {
    const { isBackchannel } = await import('../../../main/core/conversation/dialogue.ts');
    for (const t of ['', '  ', 'Mm-hm.', 'mm hm', 'Yeah, yeah.', 'Okay. I see.', 'uh huh', 'Right!']) expect(isBackchannel(t, LIST)).toBe(true);
    for (const t of ['Yeah, but wait.', 'No.', 'Okay, what time?', 'I see nothing', 'mmhm?']) expect(isBackchannel(t, LIST)).toBe(false);
  });
});
