/**
 * Writes GGUF files from JS (format v3, as documented in ggml's docs/gguf.md), so the llama-llm plugin can be
 * proven with the real llama.cpp runtime on a model generated at test time: `tinyLlamaGguf()` builds a 2-layer
 * llama-architecture model with random F32 weights, a SentencePiece-style ("llama") vocabulary with byte
 * fallback, ChatML control tokens and a `tokenizer.chat_template`.
 */
import { writeFileSync } from 'node:fs';

/** GGUF metadata value types (gguf_metadata_value_type). */
const T = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;
type Scalar = Exclude<keyof typeof T, 'array'>;

export type GgufValue =
  | { type: Scalar; value: number | bigint | boolean | string }
  | { type: 'array'; of: Scalar; values: readonly (number | bigint | boolean | string)[] };

export const gguf = {
  u32: (value: number): GgufValue => ({ type: 'u32', value }),
  i32: (value: number): GgufValue => ({ type: 'i32', value }),
  f32: (value: number): GgufValue => ({ type: 'f32', value }),
  bool: (value: boolean): GgufValue => ({ type: 'bool', value }),
  str: (value: string): GgufValue => ({ type: 'string', value }),
  arr: (of: Scalar, values: readonly (number | bigint | boolean | string)[]): GgufValue => ({ type: 'array', of, values }),
};

export interface GgufTensor {
  name: string;
  /** ggml order: dims[0] is the contiguous (fastest-moving) dimension, e.g. [n_embd, n_vocab] for token_embd. */
  dims: number[];
  data: Float32Array;
}

const GGML_TYPE_F32 = 0;
const ALIGNMENT = 32;

class ByteSink {
  private chunks: Buffer[] = [];
  length = 0;
  push(buf: Buffer): void {
    this.chunks.push(buf);
    this.length += buf.length;
  }
  u32(v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v >>> 0);
    this.push(b);
  }
  u64(v: number | bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  string(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.push(bytes);
  }
  scalar(type: Scalar, v: number | bigint | boolean | string): void {
    const b = Buffer.alloc(8);
    switch (type) {
      case 'u8': b.writeUInt8(Number(v)); return this.push(b.subarray(0, 1));
      case 'i8': b.writeInt8(Number(v)); return this.push(b.subarray(0, 1));
      case 'u16': b.writeUInt16LE(Number(v)); return this.push(b.subarray(0, 2));
      case 'i16': b.writeInt16LE(Number(v)); return this.push(b.subarray(0, 2));
      case 'u32': b.writeUInt32LE(Number(v)); return this.push(b.subarray(0, 4));
      case 'i32': b.writeInt32LE(Number(v)); return this.push(b.subarray(0, 4));
      case 'f32': b.writeFloatLE(Number(v)); return this.push(b.subarray(0, 4));
      case 'bool': b.writeUInt8(v ? 1 : 0); return this.push(b.subarray(0, 1));
      case 'u64': b.writeBigUInt64LE(BigInt(v)); return this.push(b);
      case 'i64': b.writeBigInt64LE(BigInt(v)); return this.push(b);
      case 'f64': b.writeDoubleLE(Number(v)); return this.push(b);
      case 'string': return this.string(String(v));
    }
  }
  pad(to: number): void {
    const rem = this.length % to;
    if (rem !== 0) this.push(Buffer.alloc(to - rem));
  }
  toBuffer(): Buffer {
    return Buffer.concat(this.chunks, this.length);
  }
}

/** Serialize a GGUF v3 file: header, metadata, tensor infos, aligned F32 tensor data. */
export function encodeGguf(metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: readonly GgufTensor[]): Buffer {
  const out = new ByteSink();
  out.push(Buffer.from('GGUF', 'ascii'));
  out.u32(3);
  out.u64(tensors.length);
  out.u64(metadata.length);
  for (const [key, value] of metadata) {
    out.string(key);
    out.u32(T[value.type]);
    if (value.type === 'array') {
      out.u32(T[value.of]);
      out.u64(value.values.length);
      for (const v of value.values) out.scalar(value.of, v);
    } else {
      out.scalar(value.type, value.value);
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if (elements !== t.data.length) throw new Error(`tensor ${t.name}: dims ${t.dims} hold ${elements} values, data has ${t.data.length}`);
    out.string(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.u64(d);
    out.u32(GGML_TYPE_F32);
    out.u64(offset);
    offsets.push(offset);
    offset += Math.ceil((elements * 4) / ALIGNMENT) * ALIGNMENT;
  }
  out.pad(ALIGNMENT);
  const dataStart = out.length;
  tensors.forEach((t, i) => {
    out.pad(ALIGNMENT);
    if (out.length - dataStart !== offsets[i]) throw new Error(`gguf writer: tensor ${t.name} misplaced`);
    out.push(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  });
  out.pad(ALIGNMENT);
  return out.toBuffer();
}

export function writeGguf(path: string, metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: readonly GgufTensor[]): void {
  writeFileSync(path, encodeGguf(metadata, tensors));
}

/** Deterministic PRNG (mulberry32) so generated models are identical on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The ChatML template as Qwen2.5-Instruct ships it (minus tool calling), so node-llama-cpp resolves it from the GGUF. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const WORDS = ['hello', 'hi', 'how', 'can', 'i', 'help', 'you', 'today', 'thanks', 'for', 'calling', 'yes', 'no', 'the', 'a', 'is', 'are',
  'we', 'open', 'at', 'nine', 'call', 'back', 'later', 'please', 'sure', 'what', 'time', 'name', 'your', 'my', 'and', 'to', 'it'];

/** Token types (llama_token_type). */
const NORMAL = 1, UNKNOWN = 2, CONTROL = 3, BYTE = 6;

export interface TinyLlamaOptions {
  seed?: number;
  embedding?: number;
  layers?: number;
  heads?: number;
  headsKv?: number;
  feedForward?: number;
  contextLength?: number;
  chatTemplate?: string | null;
}

/** Metadata and tensors of a tiny random llama-architecture chat model. */
export function tinyLlamaGguf(options: TinyLlamaOptions = {}): { metadata: Array<[string, GgufValue]>; tensors: GgufTensor[]; vocab: string[] } {
  const { seed = 1, embedding: nEmbd = 32, layers = 2, heads = 4, headsKv = 2, feedForward: nFf = 64, contextLength = 2048 } = options;
  const chatTemplate = options.chatTemplate === undefined ? CHATML_TEMPLATE : options.chatTemplate;
  const random = rng(seed);

  // SentencePiece-style vocabulary: specials, 256 byte-fallback tokens, ChatML control tokens, then pieces.
  const tokens: string[] = ['<unk>', '<s>', '</s>'];
  const types: number[] = [UNKNOWN, CONTROL, CONTROL];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(BYTE);
  }
  tokens.push('<|im_start|>');
  types.push(CONTROL);
  const imEnd = tokens.push('<|im_end|>') - 1;
  types.push(CONTROL);
  const pieces = new Set<string>(['▁']);
  for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?\'-:') pieces.add(c);
  for (const w of WORDS) {
    const word = `▁${w}`;
    for (let n = 2; n <= word.length; n++) pieces.add(word.slice(0, n));
  }
  const scores: number[] = tokens.map(() => 0);
  for (const p of pieces) {
    tokens.push(p);
    types.push(NORMAL);
    // SentencePiece merges the highest-scoring pair first: prefer longer pieces.
    scores.push(-10 + [...p].length);
  }
  const nVocab = tokens.length;

  const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => (random() * 2 - 1) * scale);
  const ones = (n: number) => new Float32Array(n).fill(1);
  const headDim = nEmbd / heads;
  const nEmbdKv = headDim * headsKv;
  const w = 1 / Math.sqrt(nEmbd);

  // Output projection: only ordinary text pieces get random logits; control and byte tokens stay at 0, so greedy
  // decoding from random weights streams readable text instead of ending at once or emitting stray bytes.
  const output = rand(nEmbd * nVocab, 1);
  for (let t = 0; t < nVocab; t++) if (types[t] !== NORMAL) output.fill(0, t * nEmbd, (t + 1) * nEmbd);

  const tensors: GgufTensor[] = [
    { name: 'token_embd.weight', dims: [nEmbd, nVocab], data: rand(nEmbd * nVocab, 1) },
    { name: 'output_norm.weight', dims: [nEmbd], data: ones(nEmbd) },
    { name: 'output.weight', dims: [nEmbd, nVocab], data: output },
  ];
  for (let l = 0; l < layers; l++) {
    tensors.push(
      { name: `blk.${l}.attn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `blk.${l}.attn_q.weight`, dims: [nEmbd, nEmbd], data: rand(nEmbd * nEmbd, w) },
      { name: `blk.${l}.attn_k.weight`, dims: [nEmbd, nEmbdKv], data: rand(nEmbd * nEmbdKv, w) },
      { name: `blk.${l}.attn_v.weight`, dims: [nEmbd, nEmbdKv], data: rand(nEmbd * nEmbdKv, w) },
      { name: `blk.${l}.attn_output.weight`, dims: [nEmbd, nEmbd], data: rand(nEmbd * nEmbd, w) },
      { name: `blk.${l}.ffn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `blk.${l}.ffn_gate.weight`, dims: [nEmbd, nFf], data: rand(nEmbd * nFf, w) },
      { name: `blk.${l}.ffn_up.weight`, dims: [nEmbd, nFf], data: rand(nEmbd * nFf, w) },
      { name: `blk.${l}.ffn_down.weight`, dims: [nFf, nEmbd], data: rand(nFf * nEmbd, 1 / Math.sqrt(nFf)) },
    );
  }

  const metadata: Array<[string, GgufValue]> = [
    ['general.architecture', gguf.str('llama')],
    ['general.name', gguf.str('parley-tiny-chat')],
    ['general.alignment', gguf.u32(ALIGNMENT)],
    ['llama.context_length', gguf.u32(contextLength)],
    ['llama.embedding_length', gguf.u32(nEmbd)],
    ['llama.block_count', gguf.u32(layers)],
    ['llama.feed_forward_length', gguf.u32(nFf)],
    ['llama.rope.dimension_count', gguf.u32(headDim)],
    ['llama.attention.head_count', gguf.u32(heads)],
    ['llama.attention.head_count_kv', gguf.u32(headsKv)],
    ['llama.attention.layer_norm_rms_epsilon', gguf.f32(1e-5)],
    ['llama.vocab_size', gguf.u32(nVocab)],
    ['tokenizer.ggml.model', gguf.str('llama')],
    ['tokenizer.ggml.tokens', gguf.arr('string', tokens)],
    ['tokenizer.ggml.scores', gguf.arr('f32', scores)],
    ['tokenizer.ggml.token_type', gguf.arr('i32', types)],
    ['tokenizer.ggml.unknown_token_id', gguf.u32(0)],
    ['tokenizer.ggml.bos_token_id', gguf.u32(1)],
    ['tokenizer.ggml.eos_token_id', gguf.u32(imEnd)],
    ['tokenizer.ggml.padding_token_id', gguf.u32(2)],
    ['tokenizer.ggml.add_bos_token', gguf.bool(false)],
    ['tokenizer.ggml.add_eos_token', gguf.bool(false)],
  ];
  if (chatTemplate !== null) metadata.push(['tokenizer.chat_template', gguf.str(chatTemplate)]);
  return { metadata, tensors, vocab: tokens };
}

/** Write the tiny chat model to `path`; returns its vocabulary (for assertions on generated text). */
export function writeTinyLlamaGguf(path: string, options?: TinyLlamaOptions): string[] {
  const { metadata, tensors, vocab } = tinyLlamaGguf(options);
  writeGguf(path, metadata, tensors);
  return vocab;
}
