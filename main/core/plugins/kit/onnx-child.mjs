// Runs one onnxruntime session in a child process of its own. onnxruntime-node's run() blocks its thread for the
// whole inference, and a thread that is terminated while inside it takes the whole process down; in a child
// process neither can touch the host: call audio keeps flowing, and a crash or a kill costs one run.
// Spoken to by onnx-runner.js over IPC: run {id, feeds} -> result {id, data, dims} | error {id, message};
// close -> the session is released and the process exits. It also exits when its parent goes away.
// Plain Node, no loader (`.mjs`: an ES module wherever it is copied); scripts/build.mjs puts it beside the bundled
// plugin host.
import { pathToFileURL } from 'node:url';

process.on('disconnect', () => process.exit(0));

const send = (msg) => process.connected && process.send(msg);
const [ortEntry, modelPath, optionsJson] = process.argv.slice(2);

let ort;
try {
  const mod = await import(pathToFileURL(ortEntry).href);
  ort = mod.InferenceSession ? mod : mod.default;
} catch (err) {
  send({ type: 'fatal', stage: 'import', message: err?.message ?? String(err) });
  process.exit(1);
}

let session;
try {
  session = await ort.InferenceSession.create(modelPath, JSON.parse(optionsJson));
} catch (err) {
  send({ type: 'fatal', stage: 'load', message: err?.message ?? String(err) });
  process.exit(1);
}

send({
  type: 'ready',
  inputNames: [...session.inputNames],
  outputNames: [...session.outputNames],
  inputMetadata: session.inputMetadata?.map((m) => ({ ...m, shape: m.shape ? [...m.shape] : undefined })) ?? [],
});

// One message at a time, in order: a "close" waits for the runs before it.
let queue = Promise.resolve();
process.on('message', (msg) => {
  queue = queue.then(() => handle(msg));
});

async function handle(msg) {
  if (msg.type === 'close') {
    await session.release().catch(() => {});
    process.exit(0);
  }
  if (msg.type !== 'run') return;
  try {
    const feeds = {};
    for (const [name, f] of Object.entries(msg.feeds)) feeds[name] = new ort.Tensor(f.type, f.data, f.dims);
    const outputs = await session.run(feeds);
    const out = outputs[session.outputNames[0]];
    send({ type: 'result', id: msg.id, data: Float32Array.from(out.data), dims: [...out.dims] });
  } catch (err) {
    send({ type: 'error', id: msg.id, message: err?.message ?? String(err) });
  }
}
