/**
 * The recordings' WAV layout: canonical 44-byte RIFF header, 16-bit PCM, 2 channels (caller left, agent right),
 * 8 kHz. The header is written with zero sizes when a recording starts and fixed when it ends; a file whose
 * process died in between is fixed from its real length by `repairRecordings` (recorder.ts).
 */
import { SAMPLE_RATE } from '../audio/frames.ts';
import { pcm16WavHeader } from '../audio/wav.ts';

export const WAV_HEADER_BYTES = 44;
export const WAV_CHANNELS = 2;
export const WAV_BITS = 16;
/** Bytes per interleaved sample frame (left + right, 16 bits each). */
export const WAV_BLOCK_ALIGN = (WAV_CHANNELS * WAV_BITS) / 8;
/** RIFF sizes are 32-bit; past this a recording's header saturates (≈ 37 hours of call). */
const MAX_RIFF = 0xffff_ffff;

/** Length of `dataBytes` of our PCM data, in ms. */
export function wavDurationMs(dataBytes: number): number {
  return Math.round((dataBytes / WAV_BLOCK_ALIGN / SAMPLE_RATE) * 1000);
}

export function wavHeader(dataBytes: number): Buffer {
  return pcm16WavHeader(dataBytes, SAMPLE_RATE, WAV_CHANNELS);
}

/** The two size fields of a canonical header, to patch in place (RIFF size at 4, data size at 40). */
export function wavSizeFields(dataBytes: number): { riff: Buffer; data: Buffer } {
  const riff = Buffer.alloc(4);
  riff.writeUInt32LE(Math.min(MAX_RIFF, 36 + dataBytes), 0);
  const data = Buffer.alloc(4);
  data.writeUInt32LE(Math.min(MAX_RIFF, dataBytes), 0);
  return { riff, data };
}

export interface ParsedWav {
  format: number;
  channels: number;
  sampleRate: number;
  bitsPerSample: number;
  riffSize: number;
  /** Offset of the data chunk's payload. */
  dataOffset: number;
  /** The data chunk's declared size. */
  dataSize: number;
}

/**
 * Reads a RIFF/WAVE header by walking its chunks (not only our canonical layout). Returns null when the bytes
 * are not a WAVE file or hold no `fmt ` + `data` chunk within `bytes`.
 */
export function parseWavHeader(bytes: Uint8Array): ParsedWav | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 12 || buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') return null;
  let fmt: Omit<ParsedWav, 'riffSize' | 'dataOffset' | 'dataSize'> | null = null;
  let offset = 12;
  while (offset + 8 <= buf.length) {
    const id = buf.toString('ascii', offset, offset + 4);
    const size = buf.readUInt32LE(offset + 4);
    if (id === 'fmt ' && offset + 8 + 16 <= buf.length) {
      fmt = {
        format: buf.readUInt16LE(offset + 8),
        channels: buf.readUInt16LE(offset + 10),
        sampleRate: buf.readUInt32LE(offset + 12),
        bitsPerSample: buf.readUInt16LE(offset + 22),
      };
    } else if (id === 'data') {
      if (!fmt) return null;
      return { ...fmt, riffSize: buf.readUInt32LE(4), dataOffset: offset + 8, dataSize: size };
    }
    offset += 8 + size + (size % 2); // chunks are word-aligned
  }
  return null;
}
