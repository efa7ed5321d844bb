/**
 * A Whisper model folder in transformers.js layout with tiny random weights, which the real
 * `@huggingface/transformers` ASR pipeline loads and decodes end to end:
 *
 *   config.json, generation_config.json, preprocessor_config.json, tokenizer.json, tokenizer_config.json,
 *   onnx/encoder_model{suffix}.onnx, onnx/decoder_model_merged{suffix}.onnx
 *
 * The ONNX interfaces are those of the optimum export transformers.js loads (models/session_config.js Seq2Seq,
 * modeling_utils.js seq2seq_forward / decoder_forward / getPastKeyValues):
 * - encoder: input_features [batch, 80, 3000] → last_hidden_state [batch, 1500, d_model]
 *   (two 1-D convolutions, the second with stride 2, as in Whisper, then positions and a layer norm);
 * - merged decoder: input_ids, encoder_hidden_states, past_key_values.{i}.{decoder,encoder}.{key,value},
 *   use_cache_branch → logits, present.{i}.{decoder,encoder}.{key,value}; self-attention with a causal mask over
 *   the cached keys (so cached and uncached decoding agree), cross-attention over the encoder output.
 * The tokenizer is a byte-level BPE like Whisper's, with <|endoftext|>, <|startoftranscript|>, <|notimestamps|>
 * and the 1501 timestamp tokens after it. Weights are seeded random; only ordinary text tokens get non-zero
 * output weights, and <|endoftext|> gains logit with position, so each transcript is a dozen or so tokens of
 * gibberish that depends on the audio.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeOnnxModel, GraphBuilder, type ValueInfo } from './onnx-graph.ts';
import { rng } from './gguf-writer.ts';

export interface TinyWhisperOptions {
  seed?: number;
  dModel?: number;
  heads?: number;
  decoderLayers?: number;
  /** File suffixes to write, as transformers.js maps dtypes: "_quantized" (q8), "" (fp32), "_fp16", ... */
  suffixes?: string[];
  /** Tokens generated before <|endoftext|> wins. */
  targetLength?: number;
  /** Write a multilingual model (prompt <|startoftranscript|><|lang|><|task|><|notimestamps|>) instead of an ".en" one. */
  multilingual?: boolean;
}

const OPSET = 17;
const IR_VERSION = 8;
const N_MELS = 80;
const N_FRAMES = 3000;
const N_CTX = 1500;
const MAX_TARGET = 448;

/** GPT-2's byte → printable character map, which Whisper's byte-level BPE uses. */
function bytesToUnicode(): Map<number, string> {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map = new Map<number, string>();
  for (const b of bs) map.set(b, String.fromCodePoint(b));
  let n = 0;
  for (let b = 0; b < 256; b++) if (!map.has(b)) map.set(b, String.fromCodePoint(256 + n++));
  return map;
}

const WORDS = ['and', 'so', 'my', 'fellow', 'americans', 'ask', 'not', 'what', 'your', 'country', 'can', 'do', 'for', 'you',
  'the', 'a', 'to', 'is', 'hello', 'yes', 'no', 'call', 'me', 'back', 'please', 'thank', 'time', 'open', 'we', 'are'];

interface Vocab {
  vocab: Record<string, number>;
  merges: string[];
  added: { id: number; content: string; special: boolean }[];
  size: number;
  textIds: number[];
  ids: { eot: number; sot: number; en: number; translate: number; transcribe: number; noTimestamps: number; space: number };
}

function buildVocab(): Vocab {
  const byteMap = bytesToUnicode();
  const vocab: Record<string, number> = {};
  const textIds: number[] = [];
  const printable = /^[A-Za-z .,?']+$/;
  const unByte = new Map([...byteMap].map(([b, c]) => [c, b]));
  const add = (piece: string) => {
    if (vocab[piece] !== undefined) return;
    vocab[piece] = Object.keys(vocab).length;
    // Only pieces that decode to plain letters, spaces and punctuation may be generated.
    if (printable.test(String.fromCharCode(...[...piece].map((c) => unByte.get(c)!)))) textIds.push(vocab[piece]!);
  };
  for (let b = 0; b < 256; b++) add(byteMap.get(b)!);
  const merges: string[] = [];
  const space = byteMap.get(32)!; // "Ġ"
  for (const word of WORDS.flatMap((w) => [w, space + w, space + w[0]!.toUpperCase() + w.slice(1)])) {
    const chars = [...word];
    let left = chars[0]!;
    for (const c of chars.slice(1)) {
      const merge = `${left} ${c}`;
      if (!merges.includes(merge)) merges.push(merge);
      left += c;
      add(left);
    }
  }
  let next = Object.keys(vocab).length;
  const added: Vocab['added'] = [];
  const special = (content: string) => {
    added.push({ id: next, content, special: true });
    return next++;
  };
  const eot = special('<|endoftext|>');
  const sot = special('<|startoftranscript|>');
  const en = special('<|en|>');
  const translate = special('<|translate|>');
  const transcribe = special('<|transcribe|>');
  special('<|startoflm|>');
  special('<|startofprev|>');
  special('<|nocaptions|>');
  const noTimestamps = special('<|notimestamps|>');
  // Timestamp tokens are added, non-special tokens in Whisper's tokenizer.json (the ASR decoder tells them apart by id).
  for (let i = 0; i <= 1500; i++) added.push({ id: next++, content: `<|${(i * 0.02).toFixed(2)}|>`, special: false });
  return { vocab, merges, added, size: next, textIds, ids: { eot, sot, en, translate, transcribe, noTimestamps, space: vocab[space]! } };
}

function encoderGraph(random: () => number, d: number): Uint8Array {
  const g = new GraphBuilder();
  const rand = (n: number, scale: number) => Array.from({ length: n }, () => (random() * 2 - 1) * scale);
  const w1 = g.constant('float32', [d, N_MELS, 3], rand(d * N_MELS * 3, 1 / Math.sqrt(N_MELS * 3)), 'conv1.weight');
  const b1 = g.constant('float32', [d], rand(d, 0.1), 'conv1.bias');
  const w2 = g.constant('float32', [d, d, 3], rand(d * d * 3, 1 / Math.sqrt(d * 3)), 'conv2.weight');
  const b2 = g.constant('float32', [d], rand(d, 0.1), 'conv2.bias');
  const pos = g.constant('float32', [N_CTX, d], rand(N_CTX * d, 0.2), 'embed_positions.weight');
  const gamma = g.constant('float32', [d], new Array(d).fill(1), 'layer_norm.weight');
  const beta = g.constant('float32', [d], new Array(d).fill(0), 'layer_norm.bias');

  const c1 = g.op('Tanh', [g.op('Conv', ['input_features', w1, b1], { kernel_shape: [3], pads: [1, 1] })]);
  const c2 = g.op('Tanh', [g.op('Conv', [c1, w2, b2], { kernel_shape: [3], pads: [1, 1], strides: [2] })]);
  const seq = g.op('Add', [g.op('Transpose', [c2], { perm: [0, 2, 1] }), pos]);
  g.op('LayerNormalization', [seq, gamma, beta], { axis: -1, epsilon: { f: 1e-5 } }, 'last_hidden_state');

  return encodeOnnxModel({
    irVersion: IR_VERSION,
    opset: OPSET,
    producerName: 'parley tiny-whisper',
    graphName: 'main_graph',
    inputs: [{ name: 'input_features', type: 'float32', shape: ['batch_size', N_MELS, 'encoder_sequence_length'] }],
    outputs: [{ name: 'last_hidden_state', type: 'float32', shape: ['batch_size', 'encoder_sequence_length / 2', d] }],
    nodes: g.nodes,
    initializers: g.initializers,
  });
}

function decoderGraph(random: () => number, v: Vocab, d: number, heads: number, layers: number, targetLength: number): Uint8Array {
  const g = new GraphBuilder();
  const hd = d / heads;
  const rand = (n: number, scale: number) => Array.from({ length: n }, () => (random() * 2 - 1) * scale);
  const w = 1 / Math.sqrt(d);
  const ones = g.constant('float32', [d], new Array(d).fill(1), 'ln.weight');
  const zeros = g.constant('float32', [d], new Array(d).fill(0), 'ln.bias');
  const ln = (x: string) => g.op('LayerNormalization', [x, ones, zeros], { axis: -1, epsilon: { f: 1e-5 } });
  const linear = (x: string, name: string, rows = d, cols = d) => g.op('MatMul', [x, g.constant('float32', [rows, cols], rand(rows * cols, w), name)]);
  const splitHeads = (x: string) => g.op('Transpose', [g.op('Reshape', [x, g.ints([0, 0, heads, hd])])], { perm: [0, 2, 1, 3] });
  const mergeHeads = (x: string) => g.op('Reshape', [g.op('Transpose', [x], { perm: [0, 2, 1, 3] }), g.ints([0, 0, d])]);
  const scale = g.scalar(1 / Math.sqrt(hd));
  const attend = (q: string, k: string, val: string, mask?: string) => {
    let scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), scale]);
    if (mask) scores = g.op('Add', [scores, mask]);
    return g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), val]);
  };

  // Absolute positions of the new tokens: past length (from the cache) + 0..T-1.
  const scalarIndex = (i: number) => g.constant('int64', [], [i]);
  const past = g.op('Gather', [g.op('Shape', ['past_key_values.0.decoder.key']), scalarIndex(2)], { axis: 0 });
  const newLen = g.op('Gather', [g.op('Shape', ['input_ids']), scalarIndex(1)], { axis: 0 });
  const total = g.op('Add', [past, newLen]);
  const positions = g.op('Range', [past, total, scalarIndex(1)]);
  // Causal mask over [past + new] keys: a query at position p sees keys 0..p.
  const keyPositions = g.op('Range', [scalarIndex(0), total, scalarIndex(1)]);
  const future = g.op('Greater', [g.op('Unsqueeze', [keyPositions, g.ints([0])]), g.op('Unsqueeze', [positions, g.ints([1])])]);
  const mask = g.op('Where', [future, g.scalar(-1e9), g.scalar(0)]);

  const tokenEmbed = g.constant('float32', [v.size, d], rand(v.size * d, 1), 'embed_tokens.weight');
  const posEmbed = g.constant('float32', [MAX_TARGET, d], rand(MAX_TARGET * d, 1), 'embed_positions.weight');
  let x = g.op('Add', [g.op('Gather', [tokenEmbed, 'input_ids'], { axis: 0 }), g.op('Gather', [posEmbed, positions], { axis: 0 })]);

  for (let l = 0; l < layers; l++) {
    const p = `layers.${l}`;
    const h = ln(x);
    const k = g.op('Concat', [`past_key_values.${l}.decoder.key`, splitHeads(linear(h, `${p}.self_attn.k_proj`))], { axis: 2 }, `present.${l}.decoder.key`);
    const val = g.op('Concat', [`past_key_values.${l}.decoder.value`, splitHeads(linear(h, `${p}.self_attn.v_proj`))], { axis: 2 }, `present.${l}.decoder.value`);
    x = g.op('Add', [x, linear(mergeHeads(attend(splitHeads(linear(h, `${p}.self_attn.q_proj`)), k, val, mask)), `${p}.self_attn.out_proj`)]);

    // Cross-attention keys/values come from the encoder output on every step; transformers.js keeps the first
    // step's present.*.encoder.* and feeds them back, as with optimum's merged decoders.
    const h2 = ln(x);
    const ek = g.op('Identity', [splitHeads(linear('encoder_hidden_states', `${p}.encoder_attn.k_proj`))], undefined, `present.${l}.encoder.key`);
    const ev = g.op('Identity', [splitHeads(linear('encoder_hidden_states', `${p}.encoder_attn.v_proj`))], undefined, `present.${l}.encoder.value`);
    const cross = linear(mergeHeads(attend(splitHeads(linear(h2, `${p}.encoder_attn.q_proj`)), ek, ev)), `${p}.encoder_attn.out_proj`);
    // Amplify what the audio contributes, so different audio gives different text.
    x = g.op('Add', [x, g.op('Mul', [cross, g.scalar(4)])]);

    const ffn = linear(g.op('Relu', [linear(ln(x), `${p}.fc1`, d, 2 * d)]), `${p}.fc2`, 2 * d, d);
    x = g.op('Add', [x, ffn]);
  }

  // Output projection: random for text tokens, zero for specials and timestamps.
  const text = new Set(v.textIds);
  const out = new Float32Array(d * v.size);
  for (let r = 0; r < d; r++) for (let c = 0; c < v.size; c++) out[r * v.size + c] = text.has(c) ? (random() * 2 - 1) * 1.5 : 0;
  let logits = g.op('MatMul', [ln(x), g.constant('float32', [d, v.size], out, 'proj_out.weight')]);
  // <|endoftext|> gains 4 logits per position past the target length.
  const eotColumn = new Float32Array(v.size);
  eotColumn[v.ids.eot] = 1;
  const eot = g.op('Mul', [
    g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [g.op('Cast', [positions], { to: 1 }), g.scalar(targetLength)]), g.scalar(4)]), g.ints([1])]),
    g.constant('float32', [v.size], eotColumn),
  ]);
  logits = g.op('Add', [logits, eot], undefined, 'logits');

  const inputs: ValueInfo[] = [
    { name: 'input_ids', type: 'int64', shape: ['batch_size', 'decoder_sequence_length'] },
    { name: 'encoder_hidden_states', type: 'float32', shape: ['batch_size', 'encoder_sequence_length / 2', d] },
  ];
  const outputs: ValueInfo[] = [{ name: 'logits', type: 'float32', shape: ['batch_size', 'decoder_sequence_length', v.size] }];
  for (let l = 0; l < layers; l++) {
    for (const kind of ['key', 'value']) {
      inputs.push({ name: `past_key_values.${l}.decoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'past_decoder_sequence_length', hd] });
      inputs.push({ name: `past_key_values.${l}.encoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'encoder_sequence_length_out', hd] });
      outputs.push({ name: `present.${l}.decoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'past_decoder_sequence_length + 1', hd] });
      outputs.push({ name: `present.${l}.encoder.${kind}`, type: 'float32', shape: ['batch_size', heads, 'encoder_sequence_length_out', hd] });
    }
  }
  // use_cache_branch is part of the merged interface; this graph computes both branches the same way.
  inputs.push({ name: 'use_cache_branch', type: 'bool', shape: [1] });

  return encodeOnnxModel({ irVersion: IR_VERSION, opset: OPSET, producerName: 'parley tiny-whisper', graphName: 'main_graph', inputs, outputs, nodes: g.nodes, initializers: g.initializers });
}

function tokenizerJson(v: Vocab) {
  const byteLevel = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: v.added.map((t) => ({ id: t.id, content: t.content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: t.special })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '<|startoftranscript|>', type_id: 0 } }, { SpecialToken: { id: '<|notimestamps|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '<|startoftranscript|>', type_id: 0 } }, { SpecialToken: { id: '<|notimestamps|>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '<|endoftext|>', type_id: 1 } }],
      special_tokens: Object.fromEntries(
        ['<|startoftranscript|>', '<|notimestamps|>', '<|endoftext|>'].map((tok) => {
          const id = v.added.find((t) => t.content === tok)!.id;
          return [tok, { id: tok, ids: [id], tokens: [tok] }];
        }),
      ),
    },
    decoder: byteLevel,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '', fuse_unk: false, byte_fallback: false, vocab: v.vocab, merges: v.merges },
  };
}

export interface TinyWhisperInfo {
  dir: string;
  vocabSize: number;
  /** The pieces the model can generate, decoded (plain letters, spaces and punctuation). */
  textPieces: string[];
  files: string[];
}

/** Write the tiny Whisper folder to `dir` (created if needed). */
export function writeTinyWhisper(dir: string, options: TinyWhisperOptions = {}): TinyWhisperInfo {
  const { seed = 7, dModel = 32, heads = 2, decoderLayers = 2, suffixes = ['_quantized'], targetLength = 14, multilingual = false } = options;
  const v = buildVocab();
  const files: string[] = [];
  const put = (name: string, data: string | Uint8Array) => {
    const path = join(dir, name);
    mkdirSync(join(path, '..'), { recursive: true });
    writeFileSync(path, data);
    files.push(name);
  };
  const { eot, sot, en, translate, transcribe, noTimestamps, space } = v.ids;
  put('config.json', JSON.stringify({
    _name_or_path: multilingual ? 'parley/tiny-whisper' : 'parley/tiny-whisper.en',
    architectures: ['WhisperForConditionalGeneration'],
    model_type: 'whisper',
    is_encoder_decoder: true,
    activation_function: 'gelu',
    d_model: dModel,
    encoder_layers: 1,
    encoder_attention_heads: heads,
    encoder_ffn_dim: 2 * dModel,
    decoder_layers: decoderLayers,
    decoder_attention_heads: heads,
    decoder_ffn_dim: 2 * dModel,
    num_hidden_layers: 1,
    num_mel_bins: N_MELS,
    max_source_positions: N_CTX,
    max_target_positions: MAX_TARGET,
    vocab_size: v.size,
    bos_token_id: eot,
    eos_token_id: eot,
    pad_token_id: eot,
    decoder_start_token_id: sot,
    begin_suppress_tokens: [space, eot],
    suppress_tokens: [],
    scale_embedding: false,
    use_cache: true,
    torch_dtype: 'float32',
  }, null, 2));
  put('generation_config.json', JSON.stringify({
    alignment_heads: [[decoderLayers - 1, 0]],
    begin_suppress_tokens: [space, eot],
    bos_token_id: eot,
    decoder_start_token_id: sot,
    eos_token_id: eot,
    is_multilingual: multilingual,
    lang_to_id: { '<|en|>': en },
    task_to_id: { translate, transcribe },
    max_initial_timestamp_index: 50,
    max_length: MAX_TARGET,
    no_timestamps_token_id: noTimestamps,
    pad_token_id: eot,
    return_timestamps: false,
    suppress_tokens: [],
  }, null, 2));
  put('preprocessor_config.json', JSON.stringify({
    chunk_length: 30,
    feature_extractor_type: 'WhisperFeatureExtractor',
    feature_size: N_MELS,
    hop_length: 160,
    n_fft: 400,
    n_samples: 480000,
    nb_max_frames: N_FRAMES,
    padding_side: 'right',
    padding_value: 0.0,
    processor_class: 'WhisperProcessor',
    return_attention_mask: false,
    sampling_rate: 16000,
  }, null, 2));
  put('tokenizer.json', JSON.stringify(tokenizerJson(v)));
  put('tokenizer_config.json', JSON.stringify({
    add_prefix_space: false,
    bos_token: '<|endoftext|>',
    clean_up_tokenization_spaces: true,
    eos_token: '<|endoftext|>',
    errors: 'replace',
    model_max_length: 1024,
    pad_token: '<|endoftext|>',
    processor_class: 'WhisperProcessor',
    return_attention_mask: false,
    tokenizer_class: 'WhisperTokenizer',
    unk_token: '<|endoftext|>',
  }, null, 2));

  const random = rng(seed);
  const encoder = encoderGraph(random, dModel);
  const decoder = decoderGraph(random, v, dModel, heads, decoderLayers, targetLength);
  for (const suffix of suffixes) {
    put(`onnx/encoder_model${suffix}.onnx`, encoder);
    put(`onnx/decoder_model_merged${suffix}.onnx`, decoder);
  }
  const unByte = new Map([...bytesToUnicode()].map(([b, c]) => [c, b]));
  const pieceById = new Map(Object.entries(v.vocab).map(([p, id]) => [id, p]));
  const textPieces = v.textIds.map((id) => String.fromCharCode(...[...pieceById.get(id)!].map((c) => unByte.get(c)!)));
  return { dir, vocabSize: v.size, textPieces, files };
}
