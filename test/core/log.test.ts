import { describe, expect, it } from 'vitest';
import { createLogger, memorySink, redact } from '../../main/core/log.ts';

describe('log redaction', () => {
  it('hides values under secret-looking keys, but not counts of LLM tokens', () => {
    const out = redact({ authToken: 'abc', apiKey: 'k', controlToken: 't', password: 'p', promptTokens: 384, evaluatedPromptTokens: 44, maxTokens: 96, tokenCount: 3, nested: { accessToken: 'x' } }) as Record<string, unknown>;
    expect(out).toMatchObject({ authToken: '[redacted]', apiKey: '[redacted]', controlToken: '[redacted]', password: '[redacted]', promptTokens: 384, evaluatedPromptTokens: 44, maxTokens: 96, tokenCount: 3, nested: { accessToken: '[redacted]' } });
  });

  it('applies to every record a logger writes', () => {
    const sink = memorySink();
    createLogger({ level: 'debug', sinks: [sink] }).info('turn', { token: 'secret-value', outputTokens: 12 });
    expect(sink.records[0]).toMatchObject({ token: '[redacted]', outputTokens: 12 });
    expect(JSON.stringify(sink.records)).not.toContain('secret-value');
  });
});
