/**
 * Echo on speakerphone, through the real server: a simulated caller whose phone feeds the agent's audio back
 * into its microphone (−12 dB, 150–300 ms later, band-limited by the line, see main/sim/echo-path.ts).
 *
 * The fixture test-tts speaks pure tones, which Silero rightly does not take for speech, so its echo could never
 * barge in and would prove nothing. These tests give the agent a voice of real speech instead: `speech-tts`, a
 * plugin written to a temporary plugins folder, reads jfk.wav (its length follows the text, like test-tts).
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CoreEvent, EventOf } from '../../../main/core/event-bus.ts';
import { TwilioCaller } from '../../../main/sim/twilio-caller.ts';
import { AUDIO, startTestCore, until, type TestCore } from '../../helpers/core.ts';

const MANIFEST = {
  name: 'speech-tts',
  kind: 'tts',
  version: '1.0.0',
  apiVersion: 1,
  main: 'index.js',
  description: 'Speaks a 16-bit PCM WAV of real speech, as long as the text needs (for the echo tests).',
  settings: { file: { type: 'string', default: '' }, msPerChar: { type: 'number', default: 60 } },
  models: [],
};

const PLUGIN = `import { readFileSync } from 'node:fs';
export default {
  async create(ctx) {
    const { abortError } = await ctx.import('parley:kit');
    const buf = readFileSync(ctx.settings.file);
    let rate = 16000;
    let speech = new Float32Array(0);
    for (let off = 12; off + 8 <= buf.length; ) {
      const id = buf.toString('ascii', off, off + 4);
      const size = buf.readUInt32LE(off + 4);
      if (id === 'fmt ') rate = buf.readUInt32LE(off + 12);
      if (id === 'data') {
        speech = new Float32Array(size >> 1);
        for (let i = 0; i < speech.length; i++) speech[i] = buf.readInt16LE(off + 8 + 2 * i) / 32768;
        break;
      }
      off += 8 + size + (size & 1);
    }
    return {
      async *synthesize(text, { signal }) {
        // Each piece of text starts at its own place in the recording: clauses sound different, calls the same.
        let pos = 0;
        for (const c of text) pos = (pos * 31 + c.charCodeAt(0)) % speech.length;
        const total = Math.max(1, Math.round((text.length * ctx.settings.msPerChar * rate) / 1000));
        const chunk = rate / 10;
        for (let off = 0; off < total; off += chunk) {
          if (signal.aborted) throw abortError(signal);
          const out = new Float32Array(Math.min(chunk, total - off));
          for (let i = 0; i < out.length; i++) {
            out[i] = speech[pos];
            pos = (pos + 1) % speech.length;
          }
          yield { samples: out, sampleRate: rate };
        }
      },
    };
  },
};
`;

const GREETING = 'Hello there caller, thanks for calling Parley today. I am a long greeting, so that my own voice has plenty of time to come back to me.';

const ofType = <T extends CoreEvent['type']>(t: TestCore, type: T, callSid: string) =>
  t.events.filter((e) => e.type === type && (e as { callSid?: string }).callSid === callSid) as EventOf<T>[];

function speechPlugins(): string {
  const dir = mkdtempSync(join(tmpdir(), 'parley-echo-plugins-'));
  mkdirSync(join(dir, 'speech-tts'));
  writeFileSync(join(dir, 'speech-tts', 'manifest.json'), JSON.stringify(MANIFEST, null, 2));
  writeFileSync(join(dir, 'speech-tts', 'index.js'), PLUGIN);
  return dir;
}

async function core(echoGuard: boolean, userPluginsDir: string): Promise<TestCore> {
  return startTestCore({
    greeting: GREETING,
    vad: 'silero',
    echoGuard,
    tts: 'speech-tts',
    userPluginsDir,
    pluginSettings: { 'speech-tts': { file: AUDIO('jfk.wav'), msPerChar: 60 } },
  });
}

/** A speakerphone caller who says nothing through the whole greeting. */
async function silentCaller(t: TestCore, delayMs: number): Promise<TwilioCaller> {
  const caller = await TwilioCaller.connect({ url: t.wsUrl, echo: { delayMs, gainDb: -12 } });
  await caller.waitFor('agent-start', 5_000);
  await caller.waitForAgentSilence(600, 30_000);
  await caller.hangup();
  await until(() => ofType(t, 'call.ended', caller.callSid).length === 1, 'call.ended');
  return caller;
}

describe('echo on speakerphone', () => {
  let plugins: string;
  let guarded: TestCore;
  beforeAll(async () => {
    plugins = speechPlugins();
    guarded = await core(true, plugins);
  });
  afterAll(async () => {
    await guarded?.stop();
    rmSync(plugins, { recursive: true, force: true });
  });

  for (const delayMs of [150, 220, 300]) {
    it(`the agent's own voice coming back at -12 dB after ${delayMs} ms never interrupts it`, async () => {
      const caller = await silentCaller(guarded, delayMs);
      expect(caller.clears).toEqual([]);
      expect(ofType(guarded, 'call.interrupted', caller.callSid)).toEqual([]);
      // Nor, once the greeting is over, does the tail of its echo become a caller's turn the agent answers.
      expect(ofType(guarded, 'transcript', caller.callSid).filter((e) => e.role === 'caller')).toEqual([]);
      // The whole greeting played (~7.8 s at 60 ms a character).
      expect(caller.mediaArrivals.length * 20).toBeGreaterThan(GREETING.length * 60 - 500);
    });
  }

  it('without the guard, the same echo interrupts the agent (so the guard is what stops it)', async () => {
    const bare = await core(false, plugins);
    try {
      const caller = await silentCaller(bare, 220);
      // The agent stopped itself: Twilio was told to drop the greeting (whether it then resumed after deciding the
      // "caller" only said "mm-hm" is the backchannel logic's business; the caller heard it cut off).
      expect(caller.clears.length).toBeGreaterThan(0);
      console.log(`without the guard: the agent cut itself off ${Math.round(caller.clears[0]! - caller.bursts[0]!.start)} ms into its greeting`);
    } finally {
      await bare.stop();
    }
  });

  /** Caller starts speaking → `clear` (as media-protocol.test.ts measures it), interrupting the greeting 2 s in. */
  async function bargeIn(echo: { delayMs: number; gainDb: number } | undefined): Promise<number> {
    const caller = await TwilioCaller.connect({ url: guarded.wsUrl, ...(echo ? { echo } : {}) });
    const started = await caller.waitFor<{ start: number }>('agent-start', 5_000);
    // 2 s into the greeting: the echo path is long learned, and the agent has more than 5 s left to say.
    await caller.silence(2_000 - (performance.now() - started.start));
    const speechStart = performance.now();
    const said = caller.sayWav(AUDIO('interrupt.wav'));
    await caller.waitFor('clear', 5_000);
    await said;
    // A real turn, not a backchannel: once it is over the greeting counts as interrupted (and is not resumed).
    await until(() => ofType(guarded, 'call.interrupted', caller.callSid).length > 0, 'call.interrupted', 10_000);
    await caller.hangup();
    expect(ofType(guarded, 'call.interrupted', caller.callSid)).toMatchObject([{ source: 'barge-in', turnId: 0 }]);
    expect(caller.clears).toHaveLength(1);
    return caller.clears[0]! - speechStart;
  }

  it('a real barge-in spoken over the echo still interrupts, within the usual time plus a little', async () => {
    const clean = await bargeIn(undefined);
    const over: Record<number, number> = {};
    for (const delayMs of [150, 220, 300]) over[delayMs] = await bargeIn({ delayMs, gainDb: -12 });
    console.log(`barge-in, caller starts speaking → clear: ${Math.round(clean)} ms without echo; over a -12 dB echo ${Object.entries(over).map(([d, ms]) => `${d} ms: ${Math.round(ms)} ms`).join(', ')}`);
    for (const ms of [clean, ...Object.values(over)]) {
      expect(ms).toBeGreaterThan(150); // not on the first noise
      expect(ms).toBeLessThan(900); // the usual barge-in allowance (media-protocol.test.ts: 800 ms) plus a little
    }
    // Over the echo the caller must be heard above it: a little later than on a clean line, not much.
    for (const ms of Object.values(over)) expect(ms - clean).toBeLessThan(300);
  });
});
