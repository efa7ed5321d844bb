/**
 * Minimal WAV reading and writing: PCM 8/16/24/32-bit, IEEE float and G.711 μ-law, any rate, mixed to mono on
 * read. Used by the simulator (caller audio in, agent audio out), fixtures and tests.
 */
import { readFileSync } from 'node:fs';
import { decodeFloat } from './mulaw.ts';

export interface Wav {
  samples: Float32Array;
  sampleRate: number;
}

export function parseWav(buf: Buffer, name = 'WAV'): Wav {
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${name} is not a RIFF/WAVE file`);
  }
  let off = 12;
  let format = 0;
  let channels = 0;
  let sampleRate = 0;
  let bits = 0;
  let data: Buffer | null = null;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = buf.subarray(off + 8, Math.min(buf.length, off + 8 + size));
    if (id === 'fmt ') {
      format = body.readUInt16LE(0);
      channels = body.readUInt16LE(2);
      sampleRate = body.readUInt32LE(4);
      bits = body.readUInt16LE(14);
      if (format === 0xfffe && body.length >= 26) format = body.readUInt16LE(24); // WAVE_FORMAT_EXTENSIBLE
    } else if (id === 'data') {
      data = body;
      break;
    }
    off += 8 + size + (size & 1);
  }
  if (!format || !data) throw new Error(`${name}: missing fmt or data chunk`);
  const frameBytes = (bits / 8) * channels;
  const frames = Math.floor(data.length / frameBytes);
  const out = new Float32Array(frames);
  const read = (i: number): number => {
    const p = i * (bits / 8);
    if (format === 1 && bits === 16) return data!.readInt16LE(p) / 32768;
    if (format === 1 && bits === 8) return (data![p]! - 128) / 128;
    if (format === 1 && bits === 24) return data!.readIntLE(p, 3) / 8388608;
    if (format === 1 && bits === 32) return data!.readInt32LE(p) / 2147483648;
    if (format === 3 && bits === 32) return data!.readFloatLE(p);
    if (format === 7 && bits === 8) return decodeFloat(data!.subarray(p, p + 1))[0]!;
    throw new Error(`${name}: unsupported WAV format ${format} with ${bits} bits`);
  };
  for (let f = 0; f < frames; f++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += read(f * channels + c);
    out[f] = sum / channels;
  }
  return { samples: out, sampleRate };
}

export function readWav(path: string): Wav {
  return parseWav(readFileSync(path), path);
}

/** RIFF sizes are 32-bit; past this a header saturates. */
const MAX_RIFF = 0xffff_ffff;

/** The canonical 44-byte header of a 16-bit PCM WAV holding `dataBytes` of sample data. */
export function pcm16WavHeader(dataBytes: number, sampleRate: number, channels = 1): Buffer {
  const header = Buffer.alloc(44);
  header.write('RIFF', 0, 'ascii');
  header.writeUInt32LE(Math.min(MAX_RIFF, 36 + dataBytes), 4);
  header.write('WAVE', 8, 'ascii');
  header.write('fmt ', 12, 'ascii');
  header.writeUInt32LE(16, 16); // fmt chunk size
  header.writeUInt16LE(1, 20); // PCM
  header.writeUInt16LE(channels, 22);
  header.writeUInt32LE(sampleRate, 24);
  header.writeUInt32LE(sampleRate * channels * 2, 28); // byte rate
  header.writeUInt16LE(channels * 2, 32); // block align
  header.writeUInt16LE(16, 34);
  header.write('data', 36, 'ascii');
  header.writeUInt32LE(Math.min(MAX_RIFF, dataBytes), 40);
  return header;
}

/** 16-bit PCM WAV of mono (or interleaved multi-channel) float samples. */
export function encodeWav(samples: Float32Array, sampleRate: number, channels = 1): Buffer {
  const data = Buffer.alloc(samples.length * 2);
  for (let i = 0; i < samples.length; i++) {
    const v = Math.max(-1, Math.min(1, samples[i]!));
    data.writeInt16LE(Math.round(v < 0 ? v * 32768 : v * 32767), i * 2);
  }
  return Buffer.concat([pcm16WavHeader(data.length, sampleRate, channels), data]);
}
