/**
 * A random-weight GGUF with the exact shapes of Qwen2.5-0.5B-Instruct (the llama-llm default), for
 * `npm run bench -- plugins --standin`: what llama.cpp spends on it is what it spends on the real model here.
 *
 * - qwen2 architecture: hidden 896, 24 layers, 14 heads / 2 KV heads (head dim 64), FFN 4864, q/k/v biases, tied
 *   embeddings (no output.weight), rope theta 1e6, rms eps 1e-6, context 32768.
 * - Block-quantised like the download. 896 is not a multiple of 256, so K-quants fit only ffn_down (4864 = 19 × 256);
 *   llama.cpp's Q4_K_M recipe falls back for the rest (llama-quant.cpp, tensor_type_fallback: Q4_K → Q5_0,
 *   Q6_K → Q8_0), and a tied token_embd takes the output tensor's type, Q6_K → Q8_0. Layout 'q4_k_m' writes exactly
 *   that mix (397 MB); layout 'q4_0' writes every matrix as Q4_0 (283 MB, the plain 4-bit floor), token_embd
 *   included. The catalogue lists Qwen's published Q4_K_M as 491 MB, so that file spends more bits somewhere than
 *   llama.cpp's recipe gives these shapes (not checked offline): its decode may be somewhat slower than the mix's.
 * - A byte-level BPE ("gpt2" model, qwen2 pre-tokenizer) of 151,936 entries laid out as Qwen's: 151,643 ordinary
 *   tokens, the 22 Qwen special tokens at their real ids (<|endoftext|> 151643, <|im_start|> 151644, <|im_end|>
 *   151645, …), [PAD…] up to 151935. Ordinary tokens are the 256 byte tokens, the role names (system, user,
 *   assistant: one token each, as in Qwen's) and space-led lowercase words (" the", " ab", " bakery"…), every prefix
 *   of which is a token reached by one merge, so any run of them re-tokenizes to the same ids: a reply kept in a
 *   call's KV cache matches its text at the next turn.
 * - Only the space-led word tokens have non-zero embedding rows. With tied embeddings their logits are random and
 *   every other token (EOS, the other specials, bytes, pads) scores exactly 0, below the top 40 the sampler keeps:
 *   generation never stops early (it runs to the plugin's maxTokens) and streams one text delta per token.
 * - Qwen2.5's own chat template (ChatML, system/user/assistant), so node-llama-cpp picks its wrapper as for the
 *   real file.
 *
 * Written streamed (a few MB at a time) with a seeded generator; weights are noise and say nothing.
 */
import { closeSync, mkdirSync, openSync, readSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { gguf, rng, type GgufValue } from '../../test/helpers/gguf-writer.ts';

export const QWEN25_05B = {
  nEmbd: 896,
  nLayer: 24,
  nHead: 14,
  nHeadKv: 2,
  headDim: 64,
  nFf: 4864,
  nVocab: 151_936,
  /** Ordinary (non-special) tokens: ids below <|endoftext|>. */
  nOrdinary: 151_643,
  contextLength: 32_768,
  ropeTheta: 1_000_000,
  rmsEps: 1e-6,
} as const;

export type QwenStandinLayout = 'q4_k_m' | 'q4_0';

/** ggml block types used here: id, elements per block, bytes per block, where the f16 scale(s) sit, and the rms of a block's values at scale 1. */
export const GGML_TYPES = {
  F32: { id: 0, block: 1, bytes: 4, scaleAt: [] as number[], unitRms: 1 },
  Q4_0: { id: 2, block: 32, bytes: 18, scaleAt: [0], unitRms: 4.64 },
  Q5_0: { id: 6, block: 32, bytes: 22, scaleAt: [0], unitRms: 9.23 },
  Q8_0: { id: 8, block: 32, bytes: 34, scaleAt: [0], unitRms: 73.9 },
  // block_q4_K { d, dmin, scales[12], qs[128] }: x = d·sc·q − dmin·m, 6-bit sc and m.
  Q4_K: { id: 12, block: 256, bytes: 144, scaleAt: [0, 2], unitRms: 250 },
  // block_q6_K { ql[128], qh[64], scales[16] (int8), d }: x = d·sc·(q − 32).
  Q6_K: { id: 14, block: 256, bytes: 210, scaleAt: [208], unitRms: 1367 },
} as const;
export type GgmlTypeName = keyof typeof GGML_TYPES;

/** llama_ftype of the whole file (general.file_type). */
const FILE_TYPE: Record<QwenStandinLayout, number> = { q4_0: 2, q4_k_m: 15 };

export interface StandinTensor {
  name: string;
  /** ggml order: dims[0] is the contiguous dimension (a row). */
  dims: number[];
  type: GgmlTypeName;
}

/** llama.cpp's use_more_bits (llama-quant.cpp): the layers Q4_K_M gives Q6_K for attn_v and ffn_down. */
function useMoreBits(layer: number, layers: number): boolean {
  return layer < layers / 8 || layer >= (7 * layers) / 8 || (layer - Math.floor(layers / 8)) % 3 === 2;
}

/** The tensors of Qwen2.5-0.5B as llama.cpp's qwen2 loader expects them, with the types of `layout`. */
export function qwenStandinTensors(layout: QwenStandinLayout = 'q4_k_m'): StandinTensor[] {
  const { nEmbd, nLayer, nHeadKv, headDim, nFf, nVocab } = QWEN25_05B;
  const kv = nHeadKv * headDim;
  const q4km = layout === 'q4_k_m';
  // Q4_K_M's Q4_K on a 896-wide row falls back to Q5_0; its Q6_K to Q8_0. ffn_down rows are 4864 wide: K-quants fit.
  const base: GgmlTypeName = q4km ? 'Q5_0' : 'Q4_0';
  const tensors: StandinTensor[] = [
    { name: 'token_embd.weight', dims: [nEmbd, nVocab], type: q4km ? 'Q8_0' : 'Q4_0' },
    { name: 'output_norm.weight', dims: [nEmbd], type: 'F32' },
  ];
  for (let l = 0; l < nLayer; l++) {
    const more = useMoreBits(l, nLayer);
    const b = `blk.${l}`;
    tensors.push(
      { name: `${b}.attn_norm.weight`, dims: [nEmbd], type: 'F32' },
      { name: `${b}.attn_q.weight`, dims: [nEmbd, nEmbd], type: base },
      { name: `${b}.attn_q.bias`, dims: [nEmbd], type: 'F32' },
      { name: `${b}.attn_k.weight`, dims: [nEmbd, kv], type: base },
      { name: `${b}.attn_k.bias`, dims: [kv], type: 'F32' },
      { name: `${b}.attn_v.weight`, dims: [nEmbd, kv], type: q4km ? (more ? 'Q8_0' : 'Q5_0') : 'Q4_0' },
      { name: `${b}.attn_v.bias`, dims: [kv], type: 'F32' },
      { name: `${b}.attn_output.weight`, dims: [nEmbd, nEmbd], type: base },
      { name: `${b}.ffn_norm.weight`, dims: [nEmbd], type: 'F32' },
      { name: `${b}.ffn_gate.weight`, dims: [nEmbd, nFf], type: base },
      { name: `${b}.ffn_up.weight`, dims: [nEmbd, nFf], type: base },
      { name: `${b}.ffn_down.weight`, dims: [nFf, nEmbd], type: q4km ? (more ? 'Q6_K' : 'Q4_K') : 'Q4_0' },
    );
  }
  return tensors;
}

export function tensorBytes(t: StandinTensor): number {
  const type = GGML_TYPES[t.type];
  const elements = t.dims.reduce((a, b) => a * b, 1);
  if (t.dims[0]! % type.block !== 0) throw new Error(`${t.name}: rows of ${t.dims[0]} do not fit ${t.type} blocks of ${type.block}`);
  return (elements / type.block) * type.bytes;
}

// ---- vocabulary --------------------------------------------------------------------------------------------------

/** GPT-2's bytes_to_unicode: the printable character that stands for each byte in a byte-level BPE vocabulary. */
function byteChars(): string[] {
  const keep: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) keep.push(b);
  for (let b = 0xa1; b <= 0xac; b++) keep.push(b);
  for (let b = 0xae; b <= 0xff; b++) keep.push(b);
  const chars: string[] = new Array(256);
  let extra = 0;
  for (let b = 0; b < 256; b++) chars[b] = String.fromCodePoint(keep.includes(b) ? b : 256 + extra++);
  return chars;
}

/** Qwen2.5's added tokens, ids 151643… in order; `control` ones are special (type 3), the rest user-defined (4). */
const QWEN_SPECIALS: [string, boolean][] = [
  ['<|endoftext|>', true], ['<|im_start|>', true], ['<|im_end|>', true], ['<|object_ref_start|>', true], ['<|object_ref_end|>', true],
  ['<|box_start|>', true], ['<|box_end|>', true], ['<|quad_start|>', true], ['<|quad_end|>', true], ['<|vision_start|>', true],
  ['<|vision_end|>', true], ['<|vision_pad|>', true], ['<|image_pad|>', true], ['<|video_pad|>', true], ['<tool_call>', false],
  // llama.cpp makes <|…|> tokens control tokens whatever the file says (and warns): say so up front.
  ['</tool_call>', false], ['<|fim_prefix|>', true], ['<|fim_middle|>', true], ['<|fim_suffix|>', true], ['<|fim_pad|>', true],
  ['<|repo_name|>', true], ['<|file_sep|>', true],
];
export const QWEN_TOKEN_IDS = { endOfText: 151_643, imStart: 151_644, imEnd: 151_645 } as const;

/**
 * Words that are one token each (with a leading space) on top of every 1–3 letter string: the bench's prompts are
 * written in them, so a prompt's token count is its word count plus punctuation and the chat template.
 */
export const STANDIN_WORDS = (
  'about after again answer are back bakery bread birthday cake call caller calling card cards chocolate close closed ' +
  'could day days delivery do does every for friday from good great have hello help here holiday hours how just kind ' +
  'large later like loaf long make many menu monday more morning much name need next nine noon number offer only open ' +
  'order people phone pick please price question ready right saturday short small someone sorry sourdough special ' +
  'speak spoken sunday sure take thank thanks that the their there this thursday time today tomorrow tuesday until ' +
  'want week wednesday weekend what when where which will with would write yes you your answers always never keep ' +
  'sentence sentences without lists markdown customer customers street main shop staff owner bake baked fresh pastry ' +
  'pastries croissant croissants coffee tea milk sugar flour butter eggs gluten free vegan allergy allergies nuts'
).split(' ');

export interface StandinVocab {
  tokens: string[];
  types: number[];
  merges: string[];
  /** Ids whose embedding row is non-zero: the only ones sampling can pick. */
  live: Uint8Array;
}

/** Token types (llama_token_type). */
const NORMAL = 1, CONTROL = 3, USER_DEFINED = 4, UNUSED = 5;

export function qwenStandinVocab(): StandinVocab {
  const { nVocab, nOrdinary } = QWEN25_05B;
  const bytes = byteChars();
  const space = bytes[0x20]!; // 'Ġ'
  const words = new Set<string>();
  const add = (w: string) => {
    for (let n = 1; n <= w.length; n++) words.add(w.slice(0, n));
  };
  for (const w of STANDIN_WORDS) add(w);
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  for (const a of letters) {
    add(a);
    for (const b of letters) {
      add(a + b);
      for (const c of letters) add(a + b + c);
    }
  }
  // The chat template's role names follow <|im_start|> with no space: one token each, as in Qwen's vocabulary.
  const roles = new Set<string>();
  for (const r of ['system', 'user', 'assistant']) for (let n = 2; n <= r.length; n++) roles.add(r.slice(0, n));
  // Fill with 4-letter words (their 3-letter prefixes are all in) in a scattered but fixed order.
  const all4 = 26 ** 4;
  const want = nOrdinary - 256 - roles.size;
  for (let i = 0; words.size < want && i < all4; i++) {
    let k = (i * 7919) % all4; // 7919 is prime, so this visits every 4-letter word once
    let w = '';
    for (let j = 0; j < 4; j++) (w = letters[k % 26] + w), (k = Math.floor(k / 26));
    words.add(w);
  }
  if (words.size !== want) throw new Error(`stand-in vocabulary: ${words.size} words, wanted ${want}`);
  // Shorter pieces first: their merges rank before the merges that extend them (as BPE learns them).
  const ordered = [...words].sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0));

  const tokens: string[] = [...bytes];
  const types: number[] = bytes.map(() => NORMAL);
  const merges: string[] = [];
  // Role-name merges rank last: inside a space-led word the word's own merge always wins, so every run of word
  // tokens re-tokenizes to itself.
  for (const w of [...ordered.map((o) => space + o), ...roles]) {
    tokens.push(w);
    types.push(NORMAL);
    merges.push(`${w.slice(0, -1)} ${w.slice(-1)}`);
  }
  for (const [text, control] of QWEN_SPECIALS) {
    tokens.push(text);
    types.push(control ? CONTROL : USER_DEFINED);
  }
  while (tokens.length < nVocab) {
    tokens.push(`[PAD${tokens.length}]`);
    types.push(UNUSED);
  }
  const live = new Uint8Array(nVocab);
  live.fill(1, 256, nOrdinary - roles.size);
  if (tokens[QWEN_TOKEN_IDS.imEnd] !== '<|im_end|>' || tokens.length !== nVocab) throw new Error('stand-in vocabulary misplaced its special tokens');
  return { tokens, types, merges, live };
}

/** Qwen2.5-Instruct's chat template (tokenizer_config.json), tool calling included. */
export const QWEN25_CHAT_TEMPLATE = `{%- if tools %}
    {{- '<|im_start|>system\\n' }}
    {%- if messages[0]['role'] == 'system' %}
        {{- messages[0]['content'] }}
    {%- else %}
        {{- 'You are Qwen, created by Alibaba Cloud. You are a helpful assistant.' }}
    {%- endif %}
    {{- "\\n\\n# Tools\\n\\nYou may call one or more functions to assist with the user query.\\n\\nYou are provided with function signatures within <tools></tools> XML tags:\\n<tools>" }}
    {%- for tool in tools %}
        {{- "\\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\\n</tools>\\n\\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\\n<tool_call>\\n{\\"name\\": <function-name>, \\"arguments\\": <args-json-object>}\\n</tool_call><|im_end|>\\n" }}
{%- else %}
    {%- if messages[0]['role'] == 'system' %}
        {{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}
    {%- else %}
        {{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}
    {%- endif %}
{%- endif %}
{%- for message in messages %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) or (message.role == "assistant" and not message.tool_calls) %}
        {{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}
    {%- elif message.role == "assistant" %}
        {{- '<|im_start|>' + message.role }}
        {%- if message.content %}
            {{- '\\n' + message.content }}
        {%- endif %}
        {%- for tool_call in message.tool_calls %}
            {%- if tool_call.function is defined %}
                {%- set tool_call = tool_call.function %}
            {%- endif %}
            {{- '\\n<tool_call>\\n{"name": "' }}
            {{- tool_call.name }}
            {{- '", "arguments": ' }}
            {{- tool_call.arguments | tojson }}
            {{- '}\\n</tool_call>' }}
        {%- endfor %}
        {{- '<|im_end|>\\n' }}
    {%- elif message.role == "tool" %}
        {%- if (loop.index0 == 0) or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\\n<tool_response>\\n' }}
        {{- message.content }}
        {{- '\\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\\n' }}
{%- endif %}
`;

/** Bumped when the weights written for a given header change, so a cached file from an older writer is rewritten. */
const WRITER_VERSION = 3;

export function qwenStandinMetadata(layout: QwenStandinLayout, vocab: StandinVocab, seed = 1): Array<[string, GgufValue]> {
  const q = QWEN25_05B;
  return [
    ['general.architecture', gguf.str('qwen2')],
    ['general.type', gguf.str('model')],
    ['general.name', gguf.str(`Parley stand-in: Qwen2.5-0.5B-Instruct shapes, random weights (seed ${seed}, writer ${WRITER_VERSION})`)],
    ['general.file_type', gguf.u32(FILE_TYPE[layout])],
    ['general.quantization_version', gguf.u32(2)],
    ['general.alignment', gguf.u32(ALIGNMENT)],
    ['qwen2.block_count', gguf.u32(q.nLayer)],
    ['qwen2.context_length', gguf.u32(q.contextLength)],
    ['qwen2.embedding_length', gguf.u32(q.nEmbd)],
    ['qwen2.feed_forward_length', gguf.u32(q.nFf)],
    ['qwen2.attention.head_count', gguf.u32(q.nHead)],
    ['qwen2.attention.head_count_kv', gguf.u32(q.nHeadKv)],
    ['qwen2.rope.freq_base', gguf.f32(q.ropeTheta)],
    ['qwen2.attention.layer_norm_rms_epsilon', gguf.f32(q.rmsEps)],
    ['tokenizer.ggml.model', gguf.str('gpt2')],
    ['tokenizer.ggml.pre', gguf.str('qwen2')],
    ['tokenizer.ggml.tokens', gguf.arr('string', vocab.tokens)],
    ['tokenizer.ggml.token_type', gguf.arr('i32', vocab.types)],
    ['tokenizer.ggml.merges', gguf.arr('string', vocab.merges)],
    ['tokenizer.ggml.eos_token_id', gguf.u32(QWEN_TOKEN_IDS.imEnd)],
    ['tokenizer.ggml.padding_token_id', gguf.u32(QWEN_TOKEN_IDS.endOfText)],
    ['tokenizer.ggml.bos_token_id', gguf.u32(QWEN_TOKEN_IDS.endOfText)],
    ['tokenizer.ggml.add_bos_token', gguf.bool(false)],
    ['tokenizer.chat_template', gguf.str(QWEN25_CHAT_TEMPLATE)],
  ];
}

// ---- encoding ----------------------------------------------------------------------------------------------------

const ALIGNMENT = 32;
/** GGUF metadata value types (gguf_metadata_value_type). */
const VT = { u8: 0, i8: 1, u16: 2, i16: 3, u32: 4, i32: 5, f32: 6, bool: 7, string: 8, array: 9, u64: 10, i64: 11, f64: 12 } as const;

/** Appends little-endian GGUF pieces to a list of buffers (the header is a few MB: the 151,936 tokens and merges). */
class Pieces {
  parts: Buffer[] = [];
  length = 0;
  push(b: Buffer): void {
    this.parts.push(b);
    this.length += b.length;
  }
  num(kind: 'u32' | 'i32' | 'u64' | 'f32' | 'u8', v: number | bigint | boolean): void {
    const b = Buffer.alloc(kind === 'u64' ? 8 : kind === 'u8' ? 1 : 4);
    if (kind === 'u32') b.writeUInt32LE(Number(v));
    else if (kind === 'i32') b.writeInt32LE(Number(v));
    else if (kind === 'f32') b.writeFloatLE(Number(v));
    else if (kind === 'u8') b.writeUInt8(v ? 1 : 0);
    else b.writeBigUInt64LE(BigInt(v));
    this.push(b);
  }
  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.num('u64', bytes.length);
    this.push(bytes);
  }
  value(type: string, v: number | bigint | boolean | string): void {
    if (type === 'string') this.str(String(v));
    else if (typeof v === 'string') throw new Error(`stand-in writer: a ${type} value given as a string`);
    else if (type === 'bool') this.num('u8', v);
    else if (type === 'u32' || type === 'i32' || type === 'f32' || type === 'u64') this.num(type, v);
    else throw new Error(`stand-in writer: metadata type ${type} not needed here`);
  }
}

/** The header: magic, counts, metadata, tensor infos, padding up to the aligned data section. */
export function encodeHeader(metadata: ReadonlyArray<readonly [string, GgufValue]>, tensors: readonly StandinTensor[]): { header: Buffer; offsets: number[]; dataBytes: number } {
  const out = new Pieces();
  out.push(Buffer.from('GGUF', 'ascii'));
  out.num('u32', 3);
  out.num('u64', tensors.length);
  out.num('u64', metadata.length);
  for (const [key, v] of metadata) {
    out.str(key);
    out.num('u32', VT[v.type]);
    if (v.type === 'array') {
      out.num('u32', VT[v.of]);
      out.num('u64', v.values.length);
      for (const x of v.values) out.value(v.of, x);
    } else out.value(v.type, v.value);
  }
  const offsets: number[] = [];
  let offset = 0;
  for (const t of tensors) {
    out.str(t.name);
    out.num('u32', t.dims.length);
    for (const d of t.dims) out.num('u64', d);
    out.num('u32', GGML_TYPES[t.type].id);
    out.num('u64', offset);
    offsets.push(offset);
    offset = align(offset + tensorBytes(t));
  }
  out.push(Buffer.alloc(align(out.length) - out.length));
  return { header: Buffer.concat(out.parts, out.length), offsets, dataBytes: offset };
}

/** An earlier write of exactly this file: same size, same header (metadata, tensor infos, seed, writer version). */
function sameHeader(path: string, header: Buffer, bytes: number): boolean {
  let fd: number | undefined;
  try {
    if (statSync(path).size !== bytes) return false;
    fd = openSync(path, 'r');
    const head = Buffer.alloc(header.length);
    return readSync(fd, head, 0, head.length, 0) === head.length && head.equals(header);
  } catch {
    return false;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

const align = (n: number) => Math.ceil(n / ALIGNMENT) * ALIGNMENT;

/** IEEE half from a positive float (Q6_K's small scales are subnormal halves). */
function f16(x: number): number {
  if (x === 0) return 0;
  if (x < 2 ** -14) return Math.max(1, Math.round(x / 2 ** -24));
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  const mant = (u >>> 13) & 0x3ff;
  if (exp <= 0 || exp >= 31) throw new Error(`f16: ${x} out of range`);
  return sign | (exp << 10) | mant;
}

/** Standard deviation of a weight: activations keep unit scale through every matmul (1/√fan-in). */
function weightStd(t: StandinTensor): number {
  // Tied embeddings double as the output projection: logits ≈ N(0, 1.8²) over the live tokens.
  if (t.name === 'token_embd.weight') return 0.06;
  return 1 / Math.sqrt(t.dims[0]!);
}

/** Random blocks of `t`'s type with a fixed scale per block; `deadRows` (token ids) get scale 0, i.e. all zeros. */
function* tensorChunks(t: StandinTensor, next: () => number, deadRows: Uint8Array | null): Generator<Buffer> {
  const type = GGML_TYPES[t.type];
  const elements = t.dims.reduce((a, b) => a * b, 1);
  if (t.type === 'F32') {
    // Norm weights 1 (so the norm is a plain RMS norm); biases 0.
    yield Buffer.from(new Float32Array(elements).fill(t.name.endsWith('norm.weight') ? 1 : 0).buffer);
    return;
  }
  const blocks = elements / type.block;
  const perRow = t.dims[0]! / type.block;
  const d = f16(weightStd(t) / type.unitRms);
  const dmin = t.type === 'Q4_K' ? f16((weightStd(t) / type.unitRms) * 7.5) : 0; // centres d·sc·q − dmin·m on 0
  const CHUNK_BLOCKS = Math.max(1, Math.floor((4 << 20) / type.bytes));
  for (let first = 0; first < blocks; first += CHUNK_BLOCKS) {
    const n = Math.min(CHUNK_BLOCKS, blocks - first);
    const buf = Buffer.allocUnsafe(n * type.bytes);
    const words = new Uint32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
    for (let i = 0; i < words.length; i++) words[i] = next();
    for (let i = words.length * 4; i < buf.length; i++) buf[i] = next() & 0xff;
    for (let i = 0; i < n; i++) {
      const at = i * type.bytes;
      const dead = deadRows !== null && deadRows[Math.floor((first + i) / perRow)] === 0;
      const [sd, sm] = type.scaleAt;
      buf.writeUInt16LE(dead ? 0 : d, at + sd!);
      if (sm !== undefined) buf.writeUInt16LE(dead ? 0 : dmin, at + sm);
    }
    yield buf;
  }
}

export interface QwenStandinFile {
  path: string;
  layout: QwenStandinLayout;
  bytes: number;
  tensors: number;
  /** How long writing took (0 when an identical file was already there). */
  writeMs: number;
}

/** Where the stand-in lives by default: the OS temp folder, never the repo. */
export function defaultStandinPath(layout: QwenStandinLayout = 'q4_k_m'): string {
  return join(tmpdir(), 'parley-standins', `qwen2.5-0.5b-instruct-standin-${layout}.gguf`);
}

/**
 * Write the stand-in to `path` (default: the temp folder), streamed. A file already there with the exact expected
 * size is reused (`reuse: false` rewrites it); a partial write never takes the final name.
 */
export function writeQwenStandin(options: { path?: string; layout?: QwenStandinLayout; seed?: number; reuse?: boolean } = {}): QwenStandinFile {
  const layout = options.layout ?? 'q4_k_m';
  const path = options.path ?? defaultStandinPath(layout);
  const started = performance.now();
  const vocab = qwenStandinVocab();
  const tensors = qwenStandinTensors(layout);
  const { header, offsets, dataBytes } = encodeHeader(qwenStandinMetadata(layout, vocab, options.seed ?? 1), tensors);
  const bytes = header.length + dataBytes;
  if (options.reuse !== false && sameHeader(path, header, bytes)) return { path, layout, bytes, tensors: tensors.length, writeMs: 0 };
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.partial`;
  const fd = openSync(partial, 'w');
  try {
    // xorshift32 seeded from mulberry32: ~350 MB of noise in a few seconds.
    let s = Math.floor(rng(options.seed ?? 1)() * 0xffffffff) | 1;
    const next = () => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return s >>> 0;
    };
    let written = writeSync(fd, header);
    tensors.forEach((t, i) => {
      const start = header.length + offsets[i]!;
      if (written < start) written += writeSync(fd, Buffer.alloc(start - written));
      for (const chunk of tensorChunks(t, next, t.name === 'token_embd.weight' ? vocab.live : null)) written += writeSync(fd, chunk);
    });
    if (written < bytes) written += writeSync(fd, Buffer.alloc(bytes - written));
    if (written !== bytes) throw new Error(`stand-in writer: wrote ${written} bytes, expected ${bytes}`);
  } catch (err) {
    closeSync(fd);
    rmSync(partial, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(partial, path);
  return { path, layout, bytes, tensors: tensors.length, writeMs: Math.round(performance.now() - started) };
}
