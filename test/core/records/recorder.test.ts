import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { decodeSample, encodeSample } from '../../../main/core/audio/mulaw.ts';
import { CallRecorder, repairRecordings } from '../../../main/core/records/recorder.ts';
import { wavHeader } from '../../../main/core/records/wav.ts';
import { readWav, freshDataDirPerTest } from './helpers.ts';

const dataDir = freshDataDirPerTest();

const frame = (byte: number, samples = 160) => new Uint8Array(samples).fill(byte);
const C = encodeSample(4000);
const G = encodeSample(-3000);

describe('CallRecorder', () => {
  it('places both tracks on the call clock: caller left, agent right, silence in the gaps', async () => {
    const file = join(dataDir(), 'a.wav');
    const rec = new CallRecorder(file, { lagMs: 200, flushMs: 20 });
    rec.push('inbound', 0, frame(C));
    rec.push('inbound', 20, frame(C));
    // 60 ms with no caller audio (a network gap), then the caller again.
    rec.push('inbound', 100, frame(C));
    rec.push('outbound', 40, frame(G));
    // Bunched/late: arrives after later frames but within the lag window, so it lands at its own time.
    rec.push('inbound', 40, frame(C));
    rec.push('outbound', 60, frame(G, 80)); // half a frame
    const result = await rec.close();
    expect(result).toEqual({ file, dataBytes: 960 * 4, durationMs: 120 });

    const wav = await readWav(file);
    expect(wav).toMatchObject({ format: 1, channels: 2, sampleRate: 8000, bitsPerSample: 16, dataSize: 960 * 4, riffSize: 36 + 960 * 4 });
    const c = decodeSample(C);
    const g = decodeSample(G);
    const expectedLeft = [...Array(480).fill(c), ...Array(320).fill(0), ...Array(160).fill(c)];
    const expectedRight = [...Array(320).fill(0), ...Array(240).fill(g), ...Array(400).fill(0)];
    expect(Array.from(wav.left)).toEqual(expectedLeft);
    expect(Array.from(wav.right)).toEqual(expectedRight);
  });

  it('streams to disk during the call, not only at the end', async () => {
    const file = join(dataDir(), 'b.wav');
    const rec = new CallRecorder(file, { lagMs: 100, flushMs: 100 });
    for (let i = 0; i < 100; i++) rec.push('inbound', i * 20, frame(C)); // 2 s
    // ≥ 1 s on disk while the call is still going (polled: a loaded machine may take a moment to write).
    const deadline = Date.now() + 3_000;
    let size = 0;
    while ((size = (await stat(file)).size) < 44 + 8000 * 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(size).toBeGreaterThanOrEqual(44 + 8000 * 4);
    expect((await readFile(file)).readUInt32LE(40)).toBe(0); // header fixed only on close
    await rec.close();
    expect((await readWav(file)).dataSize).toBe(16000 * 4);
  });

  it('drops frames older than the window or from a broken clock instead of shifting the call', async () => {
    const file = join(dataDir(), 'c.wav');
    const rec = new CallRecorder(file, { lagMs: 40, flushMs: 20 });
    for (let i = 0; i < 10; i++) rec.push('inbound', i * 20, frame(C));
    rec.push('outbound', 0, frame(G)); // long since written
    rec.push('outbound', 10 * 60_000, frame(G)); // ten minutes ahead of everything
    rec.push('inbound', Number.NaN, frame(G));
    rec.push('inbound', -20, frame(G));
    await rec.close();
    await rec.close(); // idempotent
    const wav = await readWav(file);
    expect(wav.dataSize).toBe(1600 * 4);
    expect(new Set(wav.right)).toEqual(new Set([0]));
    expect(new Set(wav.left)).toEqual(new Set([decodeSample(C)]));
  });
});

describe('repairRecordings', () => {
  it('fixes header sizes from the real length and cuts a half-written sample frame', async () => {
    const file = join(dataDir(), 'crashed.wav');
    const samples = Buffer.alloc(4000 * 4 + 3); // 4000 frames + 3 bytes of a torn one
    for (let i = 0; i < 4000; i++) samples.writeInt16LE(1234, i * 4);
    await writeFile(file, Buffer.concat([wavHeader(0), samples]));
    const results = await repairRecordings(dataDir());
    expect(results).toEqual([{ file, action: 'repaired', dataBytes: 16000 }]);
    const wav = await readWav(file);
    expect(wav).toMatchObject({ fileSize: 44 + 16000, dataSize: 16000, riffSize: 36 + 16000 });
    expect(wav.left[3999]).toBe(1234);
  });

  it('turns a file cut inside its header into an empty recording', async () => {
    const file = join(dataDir(), 'early.wav');
    await writeFile(file, wavHeader(0).subarray(0, 20));
    expect((await repairRecordings(dataDir()))[0]).toMatchObject({ action: 'repaired', dataBytes: 0 });
    expect(await readWav(file)).toMatchObject({ fileSize: 44, dataSize: 0, riffSize: 36, channels: 2 });
  });

  it('leaves good files, foreign files, skipped files and other names alone', async () => {
    const good = join(dataDir(), 'good.wav');
    await writeFile(good, Buffer.concat([wavHeader(8), Buffer.alloc(8)]));
    const foreign = join(dataDir(), 'notes.wav');
    await writeFile(foreign, 'not audio at all, but long enough to have a header of some kind');
    const live = join(dataDir(), 'live.wav');
    await writeFile(live, Buffer.concat([wavHeader(0), Buffer.alloc(400)]));
    await writeFile(join(dataDir(), 'other.txt'), 'x');
    const results = await repairRecordings(dataDir(), { skip: new Set([live]) });
    expect(results.map((r) => [r.file, r.action])).toEqual([
      [good, 'ok'],
      [foreign, 'unrepairable'],
    ]);
    expect((await readFile(live)).readUInt32LE(40)).toBe(0);
    expect(await readFile(foreign, 'utf8')).toMatch(/^not audio/);
  });

  it('a missing folder has nothing to repair', async () => {
    expect(await repairRecordings(join(dataDir(), 'nope'))).toEqual([]);
  });
});

describe('CallRecorder on a full disk', () => {
  it('counts only the bytes that reached the file: after a short write the size matches the file', async () => {
    const file = join(dataDir(), 'full.wav');
    const { write: fsWrite } = await import('node:fs');
    const { promisify } = await import('node:util');
    const realWrite = promisify(fsWrite) as (fd: number, b: Buffer, o: number, l: number, p: number) => Promise<{ bytesWritten: number }>;
    let calls = 0;
    // The first buffer fits; of the second only half does, then the disk is full.
    const write = async (fd: number, b: Buffer, o: number, l: number, p: number) => {
      calls++;
      if (calls === 1) return realWrite(fd, b, o, l, p);
      if (calls === 2) return realWrite(fd, b, o, Math.floor(l / 2), p);
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
    };
    const rec = new CallRecorder(file, { lagMs: 0, flushMs: 20, write });
    for (let i = 0; i < 6; i++) rec.push('inbound', i * 20, frame(C));
    const result = await rec.close();
    const size = (await stat(file)).size;
    expect(calls).toBeGreaterThanOrEqual(3);
    expect(result.dataBytes).toBe(size - 44);
    expect((await readFile(file)).readUInt32LE(40)).toBe(size - 44); // the header says the same
    expect(result.dataBytes % 4).toBe(0);
    expect(result.dataBytes).toBeGreaterThan(0);
  });
});
