import { defineConfig } from 'vitest/config';

// Files that run one after another in a shared worker process (no per-file process start and re-import, which
// costs ~0.5 s a file). Each of them starts no call and no model, mocks no module, fakes no timers and sets no
// environment variable, so nothing one leaves behind can change another. Any other file runs isolated: a new file
// is isolated unless it is added here.
const shared = [
  'test/layers.test.ts',
  'test/bench/stt-standins.test.ts',
  'test/core/audio/*.test.ts',
  'test/core/calls/{admission,test-call-actions}.test.ts',
  'test/core/{config,doctor,log,personas}.test.ts',
  'test/core/conversation/{echo-guard,replay,turn-detector}.test.ts',
  'test/core/models/*.test.ts',
  'test/core/plugins/{clauses,clean-for-speech,kit,plugin-host,plugin-output,secret-settings}.test.ts',
  'test/core/records/{call-store,crash,export,file-modes,migrations,recorder,status,timeline,tool-records}.test.ts',
  'test/core/server/{control-api,file-sender,host-and-status,limits,persona-calls,settings-api,test-call-socket}.test.ts',
  'test/core/tools/end-call-twilio.test.ts',
  'test/core/tunnel/public-endpoint.test.ts',
  'test/core/twilio/*.test.ts',
  'test/electron/{main-bundle,notify,packaging}.test.ts',
  'test/ipc/settings.test.ts',
  'test/plugins/{melo-tokens,moonshine-stt}.test.ts',
  'test/renderer/audio/{mulaw,resample,test-call-stream}.test.ts',
  'test/web/*.test.ts',
];

export default defineConfig({
  test: {
    // Native runtimes (onnxruntime, llama.cpp) and worker threads behave best in child processes.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2-core CI machines: keep parallelism modest so real-time tests keep real time.
    maxWorkers: 2,
    fileParallelism: true,
    projects: [
      { extends: true, test: { name: 'shared', include: shared, isolate: false } },
      { extends: true, test: { name: 'isolated', include: ['test/**/*.test.ts'], exclude: shared } },
    ],
  },
});
