/**
 * A call that arrives while a plugin it needs cannot start (the STT, LLM or TTS plugin failed to load, is not
 * installed, or its model file is missing): instead of dead air or an agent that can only fail, it hears a short
 * bundled "the assistant isn't ready yet" clip (main/core/assets/not-ready.wav, made by generate-not-ready.sh
 * next to it) as 20 ms μ-law media frames and a mark; once Twilio echoes the mark — or a timeout passes — the
 * stream is closed (which ends a `<Connect><Stream>` call) and the call is completed through the REST API when
 * Twilio is set up. It takes no plugin lease. `call.ended` says `not-ready`, and a `call.error` (code NOT_READY)
 * names the plugin, its error and the fix, for the GUI and the records; the setup doctor says the same.
 *
 * Like the busy notice it stands in the call registry (marked `busy`: not a call in use, not a live call).
 */
import { resolve } from 'node:path';
import { APP_ROOT } from '../config-schema.ts';
import { errorMessage, isParleyError } from '../errors.ts';
import type { AgentState, CallDirection, CallPlugins, CoreEvents } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import type { PluginKind } from '../plugins/api.ts';
import type { PluginInfo } from '../../shared/plugins.ts';
import { MediaStreamWriter, type OutboundFrame } from '../twilio/media-stream.ts';
import { loadBusyNotice } from './busy-notice.ts';
import type { LiveSession, StreamSocket } from './call-registry.ts';

export const NOT_READY_WAV = resolve(APP_ROOT, 'main', 'core', 'assets', 'not-ready.wav');
export const NOT_READY_MARK = 'not-ready-end';
/** `call.ended` reason (the call records keep it as `end_reason`). */
export const NOT_READY_REASON = 'not-ready';

const FRAME_MS = 20;
const NEEDED: readonly ('stt' | 'llm' | 'tts')[] = ['stt', 'llm', 'tts'];

/** The clip as outbound 20 ms μ-law frames. */
export function loadNotReadyNotice(path = NOT_READY_WAV): OutboundFrame[] {
  return loadBusyNotice(path);
}

/** Why calls can't be answered now: the first needed plugin that cannot start, with its error and the fix. */
export interface NotReady {
  kind: 'stt' | 'llm' | 'tts';
  plugin: string | null;
  error: string;
  fix: string;
}

export interface PluginsView {
  activeName(kind: PluginKind): string | null;
  list(): PluginInfo[];
}

/** null: every needed plugin is installed and has not failed (a plugin still starting is fine: the call waits). */
export function notReadyReason(plugins: PluginsView): NotReady | null {
  const all = plugins.list();
  for (const kind of NEEDED) {
    const name = plugins.activeName(kind);
    const info = name ? all.find((p) => p.name === name && p.kind === kind) : undefined;
    if (!name || !info) {
      return {
        kind,
        plugin: name,
        error: name ? `the ${kind} plugin "${name}" is not installed` : `no ${kind} plugin is installed`,
        fix: `pick an installed ${kind} plugin with --${kind} NAME or in Settings, or add one to the plugins folder (docs/plugins.md)`,
      };
    }
    if (info.status === 'broken' || info.status === 'failed') {
      const error = info.error ?? `${info.status} with no message`;
      const model = /model missing/i.test(error) || /pull /.test(error);
      return {
        kind,
        plugin: name,
        error,
        fix: model
          ? 'install its model (the error names the command, e.g. npm run models -- pull <id>), or set the plugin\'s model setting to a file you have'
          : `fix the plugin (see its error; the Plugins view shows it) or pick another with --${kind} NAME`,
      };
    }
  }
  return null;
}

/** One line for the log, the GUI and the doctor. */
export function describeNotReady(r: NotReady): string {
  return `The assistant isn't ready: the ${r.kind} plugin${r.plugin ? ` "${r.plugin}"` : ''} cannot start (${r.error}). Fix: ${r.fix}.`;
}

export interface NotReadyOptions {
  callSid: string;
  streamSid: string;
  direction: CallDirection;
  from: string | null;
  to: string | null;
  socket: StreamSocket;
  events: CoreEvents;
  log: Logger;
  why: NotReady;
  hangup(): Promise<void>;
  onEnded(): void;
  markGraceMs?: number;
  frames?(): OutboundFrame[];
}

export class NotReadyNotice implements LiveSession {
  readonly busy = true;
  readonly callSid: string;
  readonly streamSid: string;
  readonly direction: CallDirection;
  readonly from: string | null;
  readonly to: string | null;
  readonly startedAt = Date.now();
  readonly state: AgentState = 'speaking';
  readonly plugins: CallPlugins = { stt: '', llm: '', tts: '' };
  readonly #o: NotReadyOptions;
  #timer: NodeJS.Timeout | null = null;
  #ended = false;

  constructor(options: NotReadyOptions) {
    this.#o = options;
    this.callSid = options.callSid;
    this.streamSid = options.streamSid;
    this.direction = options.direction;
    this.from = options.from;
    this.to = options.to;
  }

  start(): void {
    const o = this.#o;
    o.log.warn(`call not answered by the agent: ${describeNotReady(o.why)} Playing the not-ready notice, then hanging up.`);
    let frames: OutboundFrame[] = [];
    try {
      frames = (o.frames ?? loadNotReadyNotice)();
    } catch (err) {
      o.log.error('not-ready notice missing; hanging up without it', { path: NOT_READY_WAV, error: errorMessage(err) });
      this.#hangUp(NOT_READY_REASON);
      return;
    }
    const writer = new MediaStreamWriter(this.streamSid, o.socket.send);
    for (const f of frames) writer.media(f);
    writer.mark(NOT_READY_MARK);
    this.#timer = setTimeout(() => this.#hangUp(NOT_READY_REASON), frames.length * FRAME_MS + (o.markGraceMs ?? 3_000));
    this.#timer.unref?.();
  }

  onMedia(): void {}
  onDtmf(): void {}
  onMark(name: string): void {
    if (name === NOT_READY_MARK) this.#hangUp(NOT_READY_REASON);
  }
  interrupt(): void {}

  end(reason: string): void {
    this.#finish(reason === NOT_READY_REASON ? reason : `${NOT_READY_REASON}: ${reason}`);
  }

  #hangUp(reason: string): void {
    if (this.#ended) return;
    this.#finish(reason);
    this.#o.socket.close('the assistant is not ready');
    this.#o.hangup().catch((err) => {
      if (isParleyError(err, 'NOT_CONFIGURED') || isParleyError(err, 'CALL_NOT_FOUND')) this.#o.log.debug('not-ready call not completed through the REST API', { error: errorMessage(err) });
      else this.#o.log.warn('could not complete the not-ready call through the REST API (closing its stream ends it anyway)', { error: errorMessage(err) });
    });
  }

  #finish(reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    const endedAt = Date.now();
    const o = this.#o;
    o.events.emit({ type: 'call.ended', callSid: this.callSid, reason, endedAt, durationMs: endedAt - this.startedAt });
    o.events.emit({
      type: 'call.error',
      callSid: this.callSid,
      code: 'NOT_READY',
      message: `A call from ${o.from ?? 'an unknown number'} heard the "not ready" notice and was hung up. ${describeNotReady(o.why)}`,
      at: endedAt,
    });
    o.onEnded();
  }
}
