/**
 * The computer's microphone for the test call: getUserMedia (echo cancellation on, so the agent's voice from
 * the speakers is not heard as the caller), resampled to 8 kHz and cut into Twilio's 20 ms frames.
 */
import { FrameCutter, Resampler } from './resample.ts';

export interface Microphone {
  stop(): void;
}

/** Why the mic can't be used, in words a user can act on. */
export function microphoneProblem(err: unknown): string {
  const name = (err as { name?: string }).name ?? '';
  if (name === 'NotAllowedError' || name === 'SecurityError') return 'Parley may not use the microphone: allow it for this page (or in your system settings) and try again.';
  if (name === 'NotFoundError' || name === 'OverconstrainedError') return 'No microphone was found: plug one in (or choose one in your system settings) and try again.';
  if (name === 'NotReadableError') return 'The microphone is in use by another program, or the system refused it: close the other program and try again.';
  if (typeof navigator === 'undefined' || !navigator.mediaDevices) return 'This page cannot use a microphone (it needs http://127.0.0.1 or localhost, or the desktop app).';
  return `The microphone could not be opened: ${(err as Error)?.message ?? String(err)}`;
}

/** Start capturing; `onFrame` gets each 20 ms frame of 8 kHz samples. */
export async function openMicrophone(ctx: AudioContext, onFrame: (frame: Float32Array) => void): Promise<Microphone> {
  if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error('no mediaDevices'), { name: 'NoMediaDevices' });
  const stream = await navigator.mediaDevices.getUserMedia({ audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 }, video: false });
  const source = ctx.createMediaStreamSource(stream);
  const down = new Resampler(ctx.sampleRate, 8000);
  const cutter = new FrameCutter(160);
  // ScriptProcessor: runs everywhere without a separate worklet module (the CSP allows only 'self' scripts);
  // 2048 samples at 48 kHz is 43 ms, well inside a turn's pause.
  const proc = ctx.createScriptProcessor(2048, 1, 1);
  const mute = ctx.createGain();
  mute.gain.value = 0;
  proc.onaudioprocess = (ev) => {
    for (const frame of cutter.push(down.push(ev.inputBuffer.getChannelData(0)))) onFrame(frame);
  };
  source.connect(proc);
  proc.connect(mute);
  mute.connect(ctx.destination);
  return {
    stop() {
      proc.onaudioprocess = null;
      source.disconnect();
      proc.disconnect();
      mute.disconnect();
      for (const t of stream.getTracks()) t.stop();
    },
  };
}
