/**
 * A call that arrives while a plugin it needs cannot start (the STT, LLM or TTS plugin failed to load, is not
 * installed, or its model file is missing): instead of dead air or an agent that can only fail, it hears a short
 * bundled "the assistant isn't ready yet" clip (main/core/assets/not-ready.wav, made by generate-not-ready.sh
 * next to it) as 20 ms μ-law media frames and a mark; once Twilio echoes the mark — or a timeout passes — the
 * stream is closed (which ends a `<Connect><Stream>` call) and the call is completed through the REST API when
 * Twilio is set up. It takes no plugin lease. `call.ended` says `not-ready`, and a `call.error` (code NOT_READY)
 * names the plugin, its error and the fix, for the GUI and the records; the setup doctor says the same.
 *
 * It is a ClipNotice (clip-notice.ts), like the busy notice.
 */
import { resolve } from 'node:path';
import { APP_ROOT } from '../config-schema.ts';
import type { PluginKind } from '../plugins/api.ts';
import type { PluginInfo } from '../../shared/plugins.ts';
import type { OutboundFrame } from '../twilio/media-stream.ts';
import { loadClip, type NoticeKind } from './clip-notice.ts';

export const NOT_READY_WAV = resolve(APP_ROOT, 'main', 'core', 'assets', 'not-ready.wav');
export const NOT_READY_MARK = 'not-ready-end';
/** `call.ended` reason (the call records keep it as `end_reason`). */
export const NOT_READY_REASON = 'not-ready';

const NEEDED: readonly ('stt' | 'llm' | 'tts')[] = ['stt', 'llm', 'tts'];

/** The clip as outbound 20 ms μ-law frames. */
export function loadNotReadyNotice(path = NOT_READY_WAV): OutboundFrame[] {
  return loadClip(path);
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

/** The not-ready notice for a call from `from`, saying why (the GUI, the records and the doctor say the same). */
export function notReadyNotice(why: NotReady, from: string | null): NoticeKind {
  return {
    reason: NOT_READY_REASON,
    mark: NOT_READY_MARK,
    clip: NOT_READY_WAV,
    label: 'not-ready',
    closeText: 'the assistant is not ready',
    startLine: `call not answered by the agent: ${describeNotReady(why)} Playing the not-ready notice, then hanging up.`,
    error: () => ({ code: 'NOT_READY', message: `A call from ${from ?? 'an unknown number'} heard the "not ready" notice and was hung up. ${describeNotReady(why)}` }),
  };
}
