/** Shared by the records suites: temp data folders, core event builders, a WAV reader. */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach } from 'vitest';
import type { CoreEvent, TurnMetrics } from '../../../main/core/event-bus.ts';
import type { TappedFrame } from '../../../main/core/audio/audio-tap.ts';
import { parseWavHeader } from '../../../main/core/records/wav.ts';

export async function tempDataDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'parley-records-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** A fresh temp data folder for each test of the file (removed after it): `dataDir()` is the current one. */
export function freshDataDirPerTest(): () => string {
  let current: { dir: string; cleanup: () => Promise<void> } | null = null;
  beforeEach(async () => {
    current = await tempDataDir();
  });
  afterEach(async () => {
    await current?.cleanup();
    current = null;
  });
  return () => {
    if (!current) throw new Error('no data folder outside a test');
    return current.dir;
  };
}

export const PLUGINS = { stt: 'whisper', llm: 'llama', tts: 'piper' };

export function started(callSid: string, at: number, over: Partial<Extract<CoreEvent, { type: 'call.started' }>> = {}): CoreEvent {
  return {
    type: 'call.started',
    callSid,
    streamSid: `MZ${callSid.slice(2)}`,
    direction: 'inbound',
    from: '+15551230001',
    to: '+15559870000',
    startedAt: at,
    customParameters: {},
    plugins: PLUGINS,
    ...over,
  };
}

export function caller(callSid: string, turnId: number, text: string, at: number, final = true): CoreEvent {
  return { type: 'transcript', callSid, turnId, role: 'caller', text, final, at };
}

export function agent(callSid: string, turnId: number, text: string, at: number, opts: { heard?: string; interrupted?: boolean; final?: boolean } = {}): CoreEvent {
  return { type: 'transcript', callSid, turnId, role: 'agent', text, heard: opts.heard ?? text, interrupted: opts.interrupted ?? false, final: opts.final ?? true, at };
}

export function metrics(callSid: string, turnId: number, at: number, over: Partial<TurnMetrics> = {}): CoreEvent {
  return {
    type: 'turn.metrics',
    callSid,
    turnId,
    at,
    metrics: { endpointMs: 500, sttMs: 120, llmFirstTokenMs: 300, ttsFirstAudioMs: 90, voiceToVoiceMs: 1100, engineOverheadMs: 40, ...over },
  };
}

export function ended(callSid: string, endedAt: number, durationMs: number, reason = 'stop'): CoreEvent {
  return { type: 'call.ended', callSid, reason, endedAt, durationMs };
}

export function status(callSid: string, s: Extract<CoreEvent, { type: 'call.status' }>['status'], at: number, over: Partial<Extract<CoreEvent, { type: 'call.status' }>> = {}): CoreEvent {
  return { type: 'call.status', callSid, status: s, at, ...over };
}

/** One frame of a call's audio tap, all bytes `byte`. */
export function audio(track: 'inbound' | 'outbound', offsetMs: number, byte: number, samples = 160): TappedFrame {
  return { track, offsetMs, mulaw: new Uint8Array(samples).fill(byte) };
}

export interface Wav {
  riffSize: number;
  dataSize: number;
  fileSize: number;
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  left: Int16Array;
  right: Int16Array;
}

/** Parses one of our recordings back, checking nothing: the tests assert on the fields. */
export async function readWav(file: string): Promise<Wav> {
  const bytes = await readFile(file);
  const h = parseWavHeader(bytes);
  if (!h) throw new Error(`${file} is not a WAV file`);
  const frames = Math.floor((bytes.length - h.dataOffset) / 4);
  const left = new Int16Array(frames);
  const right = new Int16Array(frames);
  for (let i = 0; i < frames; i++) {
    left[i] = bytes.readInt16LE(h.dataOffset + i * 4);
    right[i] = bytes.readInt16LE(h.dataOffset + i * 4 + 2);
  }
  return { riffSize: h.riffSize, dataSize: h.dataSize, fileSize: bytes.length, format: h.format, channels: h.channels, sampleRate: h.sampleRate, bitsPerSample: h.bitsPerSample, left, right };
}
