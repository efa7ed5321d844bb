/**
 * The bench's Qwen2.5-0.5B-Instruct stand-in (bench/standins/qwen-gguf.ts) has the real model's shapes, read back
 * from the written file by node-llama-cpp's own GGUF reader, and llama.cpp loads it. No timing here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GgmlType, getLlama, LlamaLogLevel, readGgufFileInfo, resolveChatWrapper, type GgufFileInfo, type Llama, type LlamaModel } from 'node-llama-cpp';
import { QWEN_TOKEN_IDS, qwenStandinTensors, qwenStandinVocab, writeQwenStandin, type QwenStandinFile } from '../../bench/standins/qwen-gguf.ts';
import { rng } from '../helpers/gguf-writer.ts';

let file: QwenStandinFile;
let info: GgufFileInfo;

beforeAll(async () => {
  // The bench's own cache file (temp folder), reused when an identical one is there.
  file = writeQwenStandin({ layout: 'q4_k_m' });
  info = await readGgufFileInfo(file.path, { readTensorInfo: true });
}, 120_000);

describe('Qwen2.5-0.5B-Instruct stand-in GGUF', () => {
  it('declares the qwen2 hyperparameters of Qwen2.5-0.5B', () => {
    const m = info.metadata as unknown as Record<string, Record<string, unknown>> & { qwen2: Record<string, unknown> & { attention: Record<string, unknown>; rope: Record<string, unknown> } };
    expect(m.general!.architecture).toBe('qwen2');
    expect(m.qwen2.embedding_length).toBe(896);
    expect(m.qwen2.block_count).toBe(24);
    expect(m.qwen2.feed_forward_length).toBe(4864);
    expect(m.qwen2.context_length).toBe(32768);
    expect(m.qwen2.attention.head_count).toBe(14);
    expect(m.qwen2.attention.head_count_kv).toBe(2);
    expect(m.qwen2.rope.freq_base).toBe(1_000_000);
    expect(m.qwen2.attention.layer_norm_rms_epsilon).toBeCloseTo(1e-6, 12);
  });

  it('has 151,936 vocabulary entries with the Qwen special tokens at their real ids, and a ChatML template', () => {
    const tok = (info.metadata as unknown as { tokenizer: { ggml: Record<string, unknown>; chat_template: string } }).tokenizer;
    const tokens = tok.ggml.tokens as string[];
    expect(tok.ggml.model).toBe('gpt2');
    expect(tok.ggml.pre).toBe('qwen2');
    expect(tokens).toHaveLength(151_936);
    expect(new Set(tokens).size).toBe(151_936);
    expect(tokens[QWEN_TOKEN_IDS.endOfText]).toBe('<|endoftext|>');
    expect(tokens[QWEN_TOKEN_IDS.imStart]).toBe('<|im_start|>');
    expect(tokens[QWEN_TOKEN_IDS.imEnd]).toBe('<|im_end|>');
    expect(tokens[151_657]).toBe('<tool_call>');
    expect(tokens[151_664]).toBe('<|file_sep|>');
    expect(tokens[151_935]).toBe('[PAD151935]');
    expect(tok.ggml.eos_token_id).toBe(QWEN_TOKEN_IDS.imEnd);
    expect(tok.chat_template).toContain("'<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>'");
  });

  it('holds every tensor llama.cpp qwen2 expects, with the real dims, tied embeddings and the Q4_K_M types', () => {
    const tensors = new Map(info.tensorInfo!.map((t) => [t.name, t]));
    expect(tensors.size).toBe(2 + 24 * 12);
    expect(tensors.has('output.weight')).toBe(false); // tied: token_embd is the output projection
    const dims = (name: string) => tensors.get(name)!.dimensions.map(Number);
    const type = (name: string) => tensors.get(name)!.ggmlType;
    expect(dims('token_embd.weight')).toEqual([896, 151_936]);
    expect(type('token_embd.weight')).toBe(GgmlType.Q8_0);
    expect(dims('output_norm.weight')).toEqual([896]);
    for (let l = 0; l < 24; l++) {
      const b = `blk.${l}`;
      expect(dims(`${b}.attn_q.weight`)).toEqual([896, 896]);
      expect(dims(`${b}.attn_k.weight`)).toEqual([896, 128]);
      expect(dims(`${b}.attn_v.weight`)).toEqual([896, 128]);
      expect(dims(`${b}.attn_q.bias`)).toEqual([896]);
      expect(dims(`${b}.attn_k.bias`)).toEqual([128]);
      expect(dims(`${b}.attn_v.bias`)).toEqual([128]);
      expect(dims(`${b}.attn_output.weight`)).toEqual([896, 896]);
      expect(dims(`${b}.ffn_gate.weight`)).toEqual([896, 4864]);
      expect(dims(`${b}.ffn_up.weight`)).toEqual([896, 4864]);
      expect(dims(`${b}.ffn_down.weight`)).toEqual([4864, 896]);
      expect(dims(`${b}.attn_norm.weight`)).toEqual([896]);
      expect(dims(`${b}.ffn_norm.weight`)).toEqual([896]);
      // 896-wide rows cannot hold 256-element K blocks: Q4_K falls back to Q5_0, Q6_K to Q8_0; ffn_down (4864) keeps K.
      expect(type(`${b}.attn_q.weight`)).toBe(GgmlType.Q5_0);
      expect(type(`${b}.ffn_gate.weight`)).toBe(GgmlType.Q5_0);
      expect([GgmlType.Q5_0, GgmlType.Q8_0]).toContain(type(`${b}.attn_v.weight`));
      expect([GgmlType.Q4_K, GgmlType.Q6_K]).toContain(type(`${b}.ffn_down.weight`));
    }
    // The parameter count of Qwen2.5-0.5B (494 M, embeddings included).
    const params = [...tensors.values()].reduce((n, t) => n + t.dimensions.reduce((a: number, d) => a * Number(d), 1), 0);
    expect(Math.round(params / 1e6)).toBe(494);
  });

  it('the all-Q4_0 layout quantises every matrix, token_embd included, to Q4_0', () => {
    const matrices = qwenStandinTensors('q4_0').filter((t) => t.dims.length === 2);
    expect(matrices).toHaveLength(1 + 24 * 7);
    expect(new Set(matrices.map((t) => t.type))).toEqual(new Set(['Q4_0']));
  });

  it('every vocabulary merge builds a token, so word tokens are reachable', () => {
    const { tokens, merges } = qwenStandinVocab();
    const all = new Set(tokens);
    expect(merges.length).toBeGreaterThan(150_000);
    for (const m of merges) expect(all.has(m.replace(' ', ''))).toBe(true);
  });
});

describe('llama.cpp on the stand-in', () => {
  let llama: Llama;
  let model: LlamaModel;
  beforeAll(async () => {
    llama = await getLlama({ build: 'never', gpu: false, maxThreads: 1, logLevel: LlamaLogLevel.error, progressLogs: false });
    model = await llama.loadModel({ modelPath: file.path, gpuLayers: 0 });
  }, 120_000);
  afterAll(async () => {
    await model?.dispose();
    await llama?.dispose();
  });

  it('loads it with Qwen chat formatting; a run of sampleable tokens re-tokenizes to the same ids (kept caches match)', () => {
    expect(model.fileInsights.trainContextSize).toBe(32768);
    expect(model.tokens.eos).toBe(QWEN_TOKEN_IDS.imEnd);
    expect(resolveChatWrapper(model).wrapperName).toBe('Qwen');
    expect(model.tokenize('<|im_start|>user\n', true)).toEqual([QWEN_TOKEN_IDS.imStart, expect.any(Number), 10]);
    // What random weights generate: any run of the space-led word tokens (the only non-zero embedding rows).
    const { live } = qwenStandinVocab();
    const random = rng(7);
    const ids: number[] = [];
    while (ids.length < 200) {
      const id = Math.floor(random() * live.length);
      if (live[id]) ids.push(id);
    }
    const text = model.detokenize(ids as never);
    expect(model.tokenize(text)).toEqual(ids);
  });
});
