import { describe, expect, it } from 'vitest';
import { FRAME_BYTES, FrameAssembler, toFrames } from '../../../main/core/audio/frames.ts';

describe('20 ms framing', () => {
  it('cuts μ-law into 160-byte frames, carrying remainders across pushes', () => {
    const a = new FrameAssembler();
    expect(a.push(new Uint8Array(100).fill(1))).toHaveLength(0);
    const frames = a.push(new Uint8Array(300).fill(2));
    expect(frames).toHaveLength(2);
    expect(frames.every((f) => f.length === FRAME_BYTES)).toBe(true);
    expect(frames[0]![99]).toBe(1);
    expect(frames[0]![100]).toBe(2);
    const last = a.flush()!;
    expect(last.length).toBe(160);
    expect(last[79]).toBe(2);
    expect(last[80]).toBe(0xff); // padded with μ-law silence
    expect(a.flush()).toBeNull();
  });

  it('toFrames covers every byte', () => {
    expect(toFrames(new Uint8Array(321))).toHaveLength(3);
    expect(toFrames(new Uint8Array(320))).toHaveLength(2);
    expect(toFrames(new Uint8Array(0))).toHaveLength(0);
  });
});
