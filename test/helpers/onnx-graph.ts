/**
 * Build small ONNX models from JavaScript, so tests can hand the real onnxruntime-node a graph with exactly the
 * input/output names, dtypes, ranks and metadata_props of a real export — without Python or downloaded weights.
 *
 * The protobuf is hand-encoded (onnx.proto3 field numbers below); only what a graph of standard ops needs:
 * ModelProto, GraphProto, NodeProto, AttributeProto, TensorProto (raw_data), ValueInfoProto, metadata_props.
 */

export type DType = 'float32' | 'int64' | 'int32' | 'bool';

/** onnx.TensorProto.DataType */
const DATA_TYPE: Record<DType, number> = { float32: 1, int32: 6, int64: 7, bool: 9 };

export interface ValueInfo {
  name: string;
  type: DType;
  /** A number is a fixed size, a string a symbolic (dynamic) dimension like "N". */
  shape: (number | string)[];
}

export interface TensorSpec {
  name: string;
  type: DType;
  dims: number[];
  data: ArrayLike<number> | ArrayLike<bigint>;
}

/** Attribute values: integers, floats (wrap as { f }), strings, int lists, float lists ({ floats }), tensors. */
export type AttrValue = number | { f: number } | string | number[] | { floats: number[] } | { tensor: TensorSpec };

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  attrs?: Record<string, AttrValue>;
}

export interface OnnxModelSpec {
  irVersion: number;
  opset: number;
  producerName?: string;
  producerVersion?: string;
  graphName: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeSpec[];
  initializers: TensorSpec[];
  /** ModelProto.metadata_props, in insertion order (what `onnx.save` writes after `meta = model.metadata_props.add()`). */
  metadata?: Record<string, string>;
}

// ---------------------------------------------------------------------------------------------------------------
// Protobuf wire format

const WIRE_VARINT = 0;
const WIRE_I32 = 5;
const WIRE_LEN = 2;

class ProtoWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(bytes: Uint8Array): void {
    this.chunks.push(bytes);
    this.length += bytes.length;
  }

  private varint(value: bigint): void {
    // int64 fields are two's complement: negative values take 10 bytes.
    let v = BigInt.asUintN(64, value);
    const out: number[] = [];
    do {
      let byte = Number(v & 0x7fn);
      v >>= 7n;
      if (v !== 0n) byte |= 0x80;
      out.push(byte);
    } while (v !== 0n);
    this.push(Uint8Array.from(out));
  }

  private tag(field: number, wire: number): void {
    this.varint(BigInt((field << 3) | wire));
  }

  int(field: number, value: number | bigint): this {
    this.tag(field, WIRE_VARINT);
    this.varint(BigInt(value));
    return this;
  }

  float(field: number, value: number): this {
    this.tag(field, WIRE_I32);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, value, true);
    this.push(b);
    return this;
  }

  bytes(field: number, value: Uint8Array): this {
    this.tag(field, WIRE_LEN);
    this.varint(BigInt(value.length));
    this.push(value);
    return this;
  }

  string(field: number, value: string): this {
    return this.bytes(field, new TextEncoder().encode(value));
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  packedInts(field: number, values: readonly (number | bigint)[]): this {
    const inner = new ProtoWriter();
    for (const v of values) inner.varint(BigInt(v));
    return this.bytes(field, inner.finish());
  }

  packedFloats(field: number, values: readonly number[]): this {
    const b = new Uint8Array(values.length * 4);
    const view = new DataView(b.buffer);
    values.forEach((v, i) => view.setFloat32(i * 4, v, true));
    return this.bytes(field, b);
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let offset = 0;
    for (const c of this.chunks) {
      out.set(c, offset);
      offset += c.length;
    }
    return out;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ONNX messages

function rawData(t: TensorSpec): Uint8Array {
  const n = t.data.length;
  switch (t.type) {
    case 'float32':
      return new Uint8Array(Float32Array.from(t.data as ArrayLike<number>).buffer);
    case 'int32':
      return new Uint8Array(Int32Array.from(t.data as ArrayLike<number>).buffer);
    case 'int64': {
      const out = new BigInt64Array(n);
      for (let i = 0; i < n; i++) out[i] = BigInt((t.data as ArrayLike<number | bigint>)[i]!);
      return new Uint8Array(out.buffer);
    }
    case 'bool':
      return Uint8Array.from(t.data as ArrayLike<number>, (v) => (v ? 1 : 0));
  }
}

function writeTensor(w: ProtoWriter, t: TensorSpec): void {
  // TensorProto: dims=1, data_type=2, name=8, raw_data=9
  if (t.dims.length > 0) w.packedInts(1, t.dims);
  w.int(2, DATA_TYPE[t.type]);
  w.string(8, t.name);
  w.bytes(9, rawData(t));
}

function writeValueInfo(w: ProtoWriter, v: ValueInfo): void {
  // ValueInfoProto: name=1, type=2 { tensor_type=1 { elem_type=1, shape=2 { dim=1 { dim_value=1 | dim_param=2 } } } }
  w.string(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.int(1, DATA_TYPE[v.type]);
      tensor.message(2, (shape) => {
        for (const d of v.shape) shape.message(1, (dim) => (typeof d === 'number' ? dim.int(1, d) : dim.string(2, d)));
      });
    }),
  );
}

function writeAttribute(w: ProtoWriter, name: string, value: AttrValue): void {
  // AttributeProto: name=1, f=2, i=3, s=4, t=5, floats=7, ints=8, type=20
  w.string(1, name);
  if (typeof value === 'number') {
    w.int(3, value).int(20, 2);
  } else if (typeof value === 'string') {
    w.string(4, value).int(20, 3);
  } else if (Array.isArray(value)) {
    w.packedInts(8, value).int(20, 7);
  } else if ('f' in value) {
    w.float(2, value.f).int(20, 1);
  } else if ('floats' in value) {
    w.packedFloats(7, value.floats).int(20, 6);
  } else {
    w.message(5, (t) => writeTensor(t, value.tensor)).int(20, 4);
  }
}

function writeNode(w: ProtoWriter, node: NodeSpec, index: number): void {
  // NodeProto: input=1, output=2, name=3, op_type=4, attribute=5
  for (const i of node.inputs) w.string(1, i);
  for (const o of node.outputs) w.string(2, o);
  w.string(3, node.name ?? `/${node.op}_${index}`);
  w.string(4, node.op);
  for (const [k, v] of Object.entries(node.attrs ?? {})) w.message(5, (a) => writeAttribute(a, k, v));
}

/** Serialize a model to the bytes of a `.onnx` file. */
export function encodeOnnxModel(spec: OnnxModelSpec): Uint8Array {
  const w = new ProtoWriter();
  // ModelProto: ir_version=1, producer_name=2, producer_version=3, graph=7, opset_import=8, metadata_props=14.
  // Written in field-number order, as protobuf serializers (and so `onnx.save`) do: the graph comes before the
  // metadata, which is why a reader must skip over the graph to find metadata_props.
  w.int(1, spec.irVersion);
  if (spec.producerName) w.string(2, spec.producerName);
  if (spec.producerVersion) w.string(3, spec.producerVersion);
  w.message(7, (g) => {
    // GraphProto: node=1, name=2, initializer=5, input=11, output=12
    spec.nodes.forEach((n, i) => g.message(1, (m) => writeNode(m, n, i)));
    g.string(2, spec.graphName);
    for (const t of spec.initializers) g.message(5, (m) => writeTensor(m, t));
    for (const v of spec.inputs) g.message(11, (m) => writeValueInfo(m, v));
    for (const v of spec.outputs) g.message(12, (m) => writeValueInfo(m, v));
  });
  w.message(8, (o) => o.string(1, '').int(2, spec.opset));
  for (const [key, value] of Object.entries(spec.metadata ?? {})) w.message(14, (m) => m.string(1, key).string(2, value));
  return w.finish();
}

// ---------------------------------------------------------------------------------------------------------------
// A small builder so graphs read like the computation they describe.

export class GraphBuilder {
  readonly nodes: NodeSpec[] = [];
  readonly initializers: TensorSpec[] = [];
  private counter = 0;

  /** A constant tensor (an initializer); returns its name. */
  constant(type: DType, dims: number[], data: ArrayLike<number> | ArrayLike<bigint>, name?: string): string {
    const n = name ?? `const_${this.counter++}`;
    this.initializers.push({ name: n, type, dims, data });
    return n;
  }

  /** A float32 scalar constant (rank 0). */
  scalar(value: number): string {
    return this.constant('float32', [], [value]);
  }

  /** An int64 1-D constant. */
  ints(values: number[]): string {
    return this.constant('int64', [values.length], values);
  }

  /** Add a node; returns the name of its (first) output. */
  op(op: string, inputs: string[], attrs?: Record<string, AttrValue>, output?: string): string {
    const out = output ?? `${op.toLowerCase()}_${this.counter++}`;
    this.nodes.push({ op, inputs, outputs: [out], ...(attrs ? { attrs } : {}) });
    return out;
  }
}
