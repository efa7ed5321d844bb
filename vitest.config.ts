import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native runtimes (onnxruntime, llama.cpp) and worker threads behave best in child processes.
    pool: 'forks',
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // 2-core CI machines: keep parallelism modest so real-time tests keep real time.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
