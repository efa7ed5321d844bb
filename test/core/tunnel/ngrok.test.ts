/**
 * The ngrok adapter at its boundary: a fake `connect` plays ngrok (offline, bad token, up, connection lost),
 * and the real native module is loaded and driven far enough to prove its failure reads clearly.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, memorySink } from '../../../main/core/log.ts';
import { NgrokTunnel, describeNgrokError, ngrokConnect, type NgrokConnectConfig, type TunnelState } from '../../../main/core/tunnel/ngrok.ts';

function fakeNgrok(script: (Error | string)[]) {
  const calls: NgrokConnectConfig[] = [];
  const closed: string[] = [];
  const connect = async (config: NgrokConnectConfig) => {
    calls.push(config);
    const next = script.shift() ?? new Error('failed to connect session: failed to establish tcp connection');
    if (next instanceof Error) throw next;
    return { url: () => next, close: async () => void closed.push(next) };
  };
  return { connect, calls, closed };
}

function tunnel(connect: (c: NgrokConnectConfig) => Promise<{ url(): string | null; close(): Promise<void> }>) {
  const states: TunnelState[] = [];
  const sink = memorySink();
  const t = new NgrokTunnel({ log: createLogger({ level: 'debug', sinks: [sink] }), onChange: (s) => states.push(s), connect, backoff: { initialMs: 1_000, maxMs: 8_000, factor: 2 } });
  return { t, states, logs: sink.records };
}

describe('NgrokTunnel', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('offline: retries with exponential backoff up to the cap, then comes up and resets', async () => {
    vi.useFakeTimers();
    const offline = () => new Error('failed to connect session: failed to establish tcp connection');
    const ngrok = fakeNgrok([offline(), offline(), offline(), offline(), offline(), 'https://abc.ngrok.app', offline()]);
    const { t, states } = tunnel(ngrok.connect);
    t.start({ addr: 'http://127.0.0.1:4321', authtoken: 'tok', domain: 'me.ngrok.app' });
    await vi.advanceTimersByTimeAsync(0);
    expect(ngrok.calls).toHaveLength(1);
    expect(ngrok.calls[0]).toMatchObject({ addr: 'http://127.0.0.1:4321', authtoken: 'tok', domain: 'me.ngrok.app' });
    expect(t.state).toMatchObject({ phase: 'retrying', retryInMs: 1_000, url: null });
    expect(t.state.error).toMatch(/cannot reach ngrok .*offline\? Parley keeps working locally and retries/);
    // 1 s, 2 s, 4 s, 8 s, 8 s (capped).
    const waits: number[] = [];
    for (let i = 0; i < 5; i++) {
      waits.push(t.state.retryInMs!);
      await vi.advanceTimersByTimeAsync(t.state.retryInMs!);
    }
    expect(waits).toEqual([1_000, 2_000, 4_000, 8_000, 8_000]);
    expect(ngrok.calls).toHaveLength(6);
    expect(t.state).toMatchObject({ phase: 'up', url: 'https://abc.ngrok.app', error: null });
    expect(t.url).toBe('https://abc.ngrok.app');
    expect(states.map((s) => s.phase)).toContain('connecting');
  });

  it('a rejected authtoken is not retried; the state says where to get a good one', async () => {
    vi.useFakeTimers();
    const ngrok = fakeNgrok([new Error('authentication failed: The authtoken you specified does not look like a proper ngrok tunnel authtoken.\n\nERR_NGROK_105')]);
    const { t } = tunnel(ngrok.connect);
    t.start({ addr: 'http://127.0.0.1:1', authtoken: 'bad' });
    await vi.advanceTimersByTimeAsync(120_000);
    expect(ngrok.calls).toHaveLength(1);
    expect(t.state).toMatchObject({ phase: 'failed', retryInMs: null });
    expect(t.state.error).toBe('ngrok rejected NGROK_AUTHTOKEN (ERR_NGROK_105): copy your token again from https://dashboard.ngrok.com/get-started/your-authtoken into Settings.');
  });

  it('reports a lost session as reconnecting and its return as up', async () => {
    const ngrok = fakeNgrok(['https://abc.ngrok.app']);
    const { t } = tunnel(ngrok.connect);
    t.start({ addr: 'http://127.0.0.1:1', authtoken: 'tok' });
    await vi.waitFor(() => expect(t.state.phase).toBe('up'));
    ngrok.calls[0]!.onStatusChange!('closed');
    expect(t.state).toMatchObject({ phase: 'reconnecting', url: 'https://abc.ngrok.app' });
    ngrok.calls[0]!.onStatusChange!('connected');
    expect(t.state).toMatchObject({ phase: 'up', error: null });
  });

  it('stop() during a pending retry cancels it; a connect that finishes after stop is closed, not used', async () => {
    vi.useFakeTimers();
    let release!: (v: { url(): string; close(): Promise<void> }) => void;
    const closed: string[] = [];
    let n = 0;
    const connect = () => {
      n++;
      if (n === 1) return Promise.reject(new Error('failed to establish tcp connection'));
      return new Promise<{ url(): string; close(): Promise<void> }>((r) => (release = r));
    };
    const { t } = tunnel(connect);
    t.start({ addr: 'http://127.0.0.1:1', authtoken: 'tok' });
    await vi.advanceTimersByTimeAsync(1_000); // second attempt now pending
    expect(n).toBe(2);
    await t.stop();
    release({ url: () => 'https://late.ngrok.app', close: async () => void closed.push('late') });
    await vi.advanceTimersByTimeAsync(60_000);
    expect(closed).toEqual(['late']);
    expect(t.state.phase).toBe('off');
    expect(n).toBe(2);
  });

  it('restarting replaces the old listener', async () => {
    const ngrok = fakeNgrok(['https://one.ngrok.app', 'https://two.ngrok.app']);
    const { t } = tunnel(ngrok.connect);
    t.start({ addr: 'http://127.0.0.1:1', authtoken: 'a' });
    await vi.waitFor(() => expect(t.url).toBe('https://one.ngrok.app'));
    t.start({ addr: 'http://127.0.0.1:1', authtoken: 'b' });
    await vi.waitFor(() => expect(t.url).toBe('https://two.ngrok.app'));
    expect(ngrok.closed).toEqual(['https://one.ngrok.app']);
    await t.stop();
    expect(ngrok.closed).toEqual(['https://one.ngrok.app', 'https://two.ngrok.app']);
  });

  it.each([
    ['ERR_NGROK_108: Your account is limited to 1 simultaneous ngrok agent sessions.', /one session at a time/, true],
    ['failed to bind the domain "x.ngrok.app" ERR_NGROK_320', /reserve it in the ngrok dashboard/, false],
    ['something else entirely', /ngrok failed: something else entirely/, true],
  ])('describes %j', (raw, message, retry) => {
    const d = describeNgrokError(new Error(raw), 'x.ngrok.app');
    expect(d.message).toMatch(message);
    expect(d.retry).toBe(retry);
  });
});

describe('the real @ngrok/ngrok', () => {
  it('loads its native module on this platform', async () => {
    const ngrok = await import('@ngrok/ngrok');
    expect(typeof ngrok.forward).toBe('function');
    expect(typeof ngrok.SessionBuilder).toBe('function');
    expect(new ngrok.SessionBuilder()).toBeTruthy();
  });

  it('fails with a clear error when ngrok is unreachable or the token is bad, and the adapter says what to do', { timeout: 30_000 }, async () => {
    const err = await ngrokConnect({ addr: 'http://127.0.0.1:9', authtoken: 'not-a-real-token' }).then(
      (l) => {
        void l.close();
        throw new Error('ngrok accepted a made-up token');
      },
      (e: unknown) => e,
    );
    const d = describeNgrokError(err);
    // Here ngrok's servers are unreachable (offline); with a network, the made-up token is rejected instead.
    expect(d.message).toMatch(/cannot reach ngrok \(failed to connect session.*offline\?|ngrok rejected NGROK_AUTHTOKEN/);
  });
});
