// Read an .onnx file's metadata_props (the key/value pairs an exporter writes, e.g. MeloTTS's sample_rate and
// add_blank) without loading the model: onnxruntime-node does not expose them, and a real model.onnx is ~170 MB.
// ModelProto is a protobuf message; the graph (field 7) is skipped by its length, metadata_props is field 14.
import { open } from 'node:fs/promises';

class Truncated extends Error {}

export async function readOnnxMetadata(path) {
  const file = await open(path, 'r');
  try {
    const { size } = await file.stat();
    const head = Buffer.alloc(20);
    let pos = 0;

    const readVarint = async () => {
      const { bytesRead } = await file.read(head, 0, Math.min(10, size - pos), pos);
      let value = 0;
      let scale = 1;
      for (let i = 0; i < bytesRead; i++) {
        const byte = head[i];
        value += (byte & 0x7f) * scale;
        scale *= 128;
        if ((byte & 0x80) === 0) {
          pos += i + 1;
          return value;
        }
      }
      throw new Truncated('a number runs past the end of the file');
    };

    const metadata = {};
    let sawGraph = false;
    if (size === 0) throw new Truncated('the file is empty');
    while (pos < size) {
      const tag = await readVarint();
      const field = Math.floor(tag / 8);
      const wire = tag % 8;
      if (field === 0) throw new Truncated('field number 0 is not protobuf');
      if (wire === 0) {
        await readVarint();
      } else if (wire === 1) {
        pos += 8;
      } else if (wire === 5) {
        pos += 4;
      } else if (wire === 2) {
        const length = await readVarint();
        if (pos + length > size) throw new Truncated(`field ${field} says ${length} bytes but the file ends first`);
        if (field === 7) sawGraph = true;
        if (field === 14) {
          const entry = Buffer.alloc(length);
          await file.read(entry, 0, length, pos);
          const [key, value] = parseEntry(entry);
          metadata[key] = value;
        }
        pos += length;
      } else {
        throw new Truncated(`wire type ${wire} is not used by ONNX`);
      }
    }
    if (pos !== size) throw new Truncated('the last field runs past the end of the file');
    if (!sawGraph) throw new Truncated('there is no graph in it');
    return metadata;
  } catch (err) {
    if (err instanceof Truncated) {
      const e = new Error(`${path} is not a valid ONNX model: ${err.message} (an interrupted download or the wrong file)`);
      e.code = 'MODEL_CORRUPT';
      throw e;
    }
    throw err;
  } finally {
    await file.close();
  }
}

/** StringStringEntryProto { key = 1; value = 2; } */
function parseEntry(buf) {
  let pos = 0;
  const out = ['', ''];
  const varint = () => {
    let value = 0;
    let scale = 1;
    for (;;) {
      if (pos >= buf.length) throw new Truncated('a metadata entry is cut short');
      const byte = buf[pos++];
      value += (byte & 0x7f) * scale;
      scale *= 128;
      if ((byte & 0x80) === 0) return value;
    }
  };
  while (pos < buf.length) {
    const tag = varint();
    if (tag % 8 !== 2) throw new Truncated('a metadata entry is not key/value strings');
    const length = varint();
    if (pos + length > buf.length) throw new Truncated('a metadata entry is cut short');
    const text = buf.toString('utf8', pos, pos + length);
    if (tag >> 3 === 1) out[0] = text;
    else if (tag >> 3 === 2) out[1] = text;
    pos += length;
  }
  return out;
}
