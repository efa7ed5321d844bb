/**
 * Layers for the bench's random-weight ONNX stand-ins, on top of test/helpers/onnx-graph.ts (the hand-written
 * protobuf builder). Adds what a real `_quantized` export contains and that builder has no dtype for:
 *
 * - q8 linear layers exactly as onnxruntime's `quantize_dynamic` writes them (what optimum / transformers.js
 *   `*_quantized.onnx` files hold): DynamicQuantizeLinear(x) → uint8 x_q, x_scale, x_zero_point;
 *   MatMulInteger(x_q, W_int8, x_zero_point, w_zero_point) → int32; Cast → float; Mul by (x_scale · w_scale);
 *   then Add the fp32 bias. onnxruntime fuses this into DynamicQuantizeMatMul at load, as it does for the download.
 * - int8 initializers: appended as a second serialized ModelProto holding only graph.initializer entries.
 *   Protobuf merges concatenated messages (repeated fields append, the singular `graph` merges), so the file is
 *   one valid model.
 */
import { randomFillSync } from 'node:crypto';
import { encodeOnnxModel, GraphBuilder, type OnnxModelSpec } from '../../test/helpers/onnx-graph.ts';

export interface Int8Tensor {
  name: string;
  dims: number[];
  data: Int8Array | Uint8Array;
}

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return out;
}

function lenField(field: number, payload: Uint8Array[]): Uint8Array[] {
  const size = payload.reduce((s, p) => s + p.length, 0);
  return [Uint8Array.from([...varint((field << 3) | 2), ...varint(size)]), ...payload];
}

/** TensorProto { dims=1 packed, data_type=2 (UINT8 = 2, INT8 = 3), name=8, raw_data=9 }. */
function int8TensorProto(t: Int8Tensor): Uint8Array[] {
  const dims = Uint8Array.from(t.dims.flatMap(varint));
  return [
    ...(t.dims.length ? lenField(1, [dims]) : []),
    Uint8Array.from([(2 << 3) | 0, t.data instanceof Int8Array ? 3 : 2]),
    ...lenField(8, [new TextEncoder().encode(t.name)]),
    ...lenField(9, [new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength)]),
  ];
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Encode a model whose graph also holds int8 initializers. */
export function encodeModelWithInt8(spec: OnnxModelSpec, int8: Int8Tensor[]): Uint8Array {
  const base = encodeOnnxModel(spec);
  // ModelProto.graph (7) { GraphProto.initializer (5) { TensorProto } ... }
  const graph = int8.flatMap((t) => {
    const tensor = int8TensorProto(t);
    return lenField(5, tensor);
  });
  return concat([base, ...lenField(7, graph)]);
}

export type Random = () => number;

/** A graph under construction with the layer vocabulary of Whisper- and Moonshine-style transformers. */
export class LayerGraph {
  readonly g = new GraphBuilder();
  readonly int8: Int8Tensor[] = [];
  private n = 0;

  /**
   * Weight type, as the export chooses it: int8 (QInt8) for graphs of MatMuls, uint8 (QUInt8) for graphs with a
   * Conv, because onnxruntime's ConvInteger takes only uint8 weights and quantize_dynamic uses one type per model.
   */
  constructor(private readonly random: Random, readonly weights: 'int8' | 'uint8' = 'int8') {}

  rand(n: number, scale: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) out[i] = (this.random() * 2 - 1) * scale;
    return out;
  }

  /** A random int8 weight [rows, cols]; the per-tensor scale makes it ~U(-1/√rows, 1/√rows). */
  int8Weight(name: string, rows: number, cols: number, zeroColumns?: (c: number) => boolean): { q: string; scale: number } {
    const data = this.weights === 'int8' ? new Int8Array(rows * cols) : new Uint8Array(rows * cols);
    randomFillSync(data);
    const zero = this.weights === 'int8' ? 0 : 128;
    if (zeroColumns) for (let c = 0; c < cols; c++) if (zeroColumns(c)) for (let r = 0; r < rows; r++) data[r * cols + c] = zero;
    this.int8.push({ name, dims: [rows, cols], data });
    return { q: name, scale: 1 / (127 * Math.sqrt(rows)) };
  }

  /** q8 linear: x [.., rows] → [.., cols], as quantize_dynamic writes it (see the file comment). */
  qlinear(x: string, name: string, rows: number, cols: number, bias = true, opts: { zeroColumns?: (c: number) => boolean; gain?: number } = {}): string {
    const g = this.g;
    const w = this.int8Weight(`${name}.weight_quantized`, rows, cols, opts.zeroColumns);
    const wZero = this.int8Zero();
    const xq = `${name}.x_q`, xs = `${name}.x_scale`, xz = `${name}.x_zero_point`;
    g.nodes.push({ op: 'DynamicQuantizeLinear', inputs: [x], outputs: [xq, xs, xz] });
    const mm = g.op('MatMulInteger', [xq, w.q, xz, wZero]);
    const scale = g.op('Mul', [xs, g.scalar(w.scale * (opts.gain ?? 1))]);
    let y = g.op('Mul', [g.op('Cast', [mm], { to: 1 }), scale]);
    if (bias) y = g.op('Add', [y, g.constant('float32', [cols], this.rand(cols, 0.02), `${name}.bias`)]);
    return y;
  }

  private zeroName?: string;
  private int8Zero(): string {
    if (!this.zeroName) {
      this.zeroName = 'w_zero_point';
      this.int8.push({ name: this.zeroName, dims: [], data: this.weights === 'int8' ? new Int8Array(1) : Uint8Array.of(128) });
    }
    return this.zeroName;
  }

  /**
   * q8 Conv1d as quantize_dynamic writes it: DynamicQuantizeLinear(x) → ConvInteger(x_q, W_uint8, x_zero_point,
   * w_zero_point) → Cast → Mul (x_scale · w_scale) → Add bias [out, 1]. Needs weights 'uint8'.
   */
  qconv(x: string, name: string, out: number, inC: number, kernel: number, attrs: { strides?: number[]; pads?: number[] }, bias = true): string {
    if (this.weights !== 'uint8') throw new Error('ConvInteger needs uint8 weights');
    const g = this.g;
    const data = new Uint8Array(out * inC * kernel);
    randomFillSync(data);
    this.int8.push({ name: `${name}.weight_quantized`, dims: [out, inC, kernel], data });
    const xq = `${name}.x_q`, xs = `${name}.x_scale`, xz = `${name}.x_zero_point`;
    g.nodes.push({ op: 'DynamicQuantizeLinear', inputs: [x], outputs: [xq, xs, xz] });
    const conv = g.op('ConvInteger', [xq, `${name}.weight_quantized`, xz, this.int8Zero()], { kernel_shape: [kernel], ...attrs });
    let y = g.op('Mul', [g.op('Cast', [conv], { to: 1 }), g.op('Mul', [xs, g.scalar(1 / (127 * Math.sqrt(inC * kernel)))])]);
    if (bias) y = g.op('Add', [y, g.constant('float32', [out, 1], this.rand(out, 0.02), `${name}.bias`)]);
    return y;
  }

  /** An int8 embedding table [rows, d] read with Gather, then DequantizeLinear (as a quantized Gather is). */
  qembedding(ids: string, name: string, rows: number, d: number): string {
    const w = this.int8Weight(`${name}.weight_quantized`, rows, d);
    const gathered = this.g.op('Gather', [w.q, ids], { axis: 0 });
    return this.g.op('DequantizeLinear', [gathered, this.g.scalar(w.scale * Math.sqrt(rows)), this.int8Zero()]);
  }

  layerNorm(x: string, d: number, bias = true): string {
    const inputs = [x, this.g.constant('float32', [d], new Float32Array(d).fill(1), `ln${this.n}.weight`)];
    if (bias) inputs.push(this.g.constant('float32', [d], new Float32Array(d), `ln${this.n}.bias`));
    this.n++;
    return this.g.op('LayerNormalization', inputs, { axis: -1, epsilon: { f: 1e-5 } });
  }

  /** Exact (erf) GELU, the form torch exports; onnxruntime fuses it into Gelu. */
  gelu(x: string): string {
    const g = this.g;
    const erf = g.op('Erf', [g.op('Div', [x, g.scalar(Math.SQRT2)])]);
    return g.op('Mul', [g.op('Mul', [x, g.op('Add', [erf, g.scalar(1)])]), g.scalar(0.5)]);
  }

  silu(x: string): string {
    return this.g.op('Mul', [x, this.g.op('Sigmoid', [x])]);
  }

  splitHeads(x: string, heads: number, hd: number): string {
    return this.g.op('Transpose', [this.g.op('Reshape', [x, this.g.ints([0, 0, heads, hd])])], { perm: [0, 2, 1, 3] });
  }

  mergeHeads(x: string, d: number): string {
    return this.g.op('Reshape', [this.g.op('Transpose', [x], { perm: [0, 2, 1, 3] }), this.g.ints([0, 0, d])]);
  }

  /** softmax(q·kᵀ/√hd + mask)·v, fp32 (quantize_dynamic leaves activation × activation MatMuls alone). */
  attend(q: string, k: string, v: string, hd: number, mask?: string): string {
    const g = this.g;
    let scores = g.op('Mul', [g.op('MatMul', [q, g.op('Transpose', [k], { perm: [0, 1, 3, 2] })]), g.scalar(1 / Math.sqrt(hd))]);
    if (mask) scores = g.op('Add', [scores, mask]);
    return g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
  }

  /**
   * Partial rotary embedding on [b, h, t, hd]: the first `rot` dims rotated by position (rotate-half form), the
   * rest passed through. `cos`/`sin` are [t, rot/2] tables gathered by position.
   */
  rotary(x: string, cos: string, sin: string, hd: number, rot: number): string {
    const g = this.g;
    const half = rot / 2;
    const sl = (s: number, e: number) => g.op('Slice', [x, g.ints([s]), g.ints([e]), g.ints([3])]);
    const x1 = sl(0, half), x2 = sl(half, rot), pass = sl(rot, hd);
    const r1 = g.op('Sub', [g.op('Mul', [x1, cos]), g.op('Mul', [x2, sin])]);
    const r2 = g.op('Add', [g.op('Mul', [x2, cos]), g.op('Mul', [x1, sin])]);
    return g.op('Concat', [r1, r2, pass], { axis: 3 });
  }

  /** cos/sin tables [maxPos, rot/2] (constants) gathered at `positions` (int64 [t]). */
  rotaryTables(positions: string, maxPos: number, rot: number, theta = 10000): { cos: string; sin: string } {
    const half = rot / 2;
    const cos = new Float32Array(maxPos * half), sin = new Float32Array(maxPos * half);
    for (let p = 0; p < maxPos; p++) for (let i = 0; i < half; i++) {
      const a = p / theta ** ((2 * i) / rot);
      cos[p * half + i] = Math.cos(a);
      sin[p * half + i] = Math.sin(a);
    }
    const c = this.g.constant('float32', [maxPos, half], cos, `rope.cos.${this.n}`);
    const s = this.g.constant('float32', [maxPos, half], sin, `rope.sin.${this.n++}`);
    return { cos: this.g.op('Gather', [c, positions], { axis: 0 }), sin: this.g.op('Gather', [s, positions], { axis: 0 }) };
  }

  /** int64 scalar constant. */
  index(i: number): string {
    return this.g.constant('int64', [], [i]);
  }

  /** Dimension `axis` of `x` as an int64 scalar. */
  dim(x: string, axis: number): string {
    return this.g.op('Gather', [this.g.op('Shape', [x]), this.index(axis)], { axis: 0 });
  }
}
