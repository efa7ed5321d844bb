/**
 * A call beyond PARLEY_MAX_CALLS: instead of the agent it hears a short bundled "all lines are busy" clip
 * (main/core/assets/busy-notice.wav, made by generate-busy-notice.sh next to it), then is hung up: a ClipNotice
 * (clip-notice.ts). It runs no model: the models are busy.
 */
import { resolve } from 'node:path';
import { APP_ROOT } from '../config-schema.ts';
import type { OutboundFrame } from '../twilio/media-stream.ts';
import { loadClip, type NoticeKind } from './clip-notice.ts';

/** The bundled clip (8 kHz μ-law WAV), found from the app root in development and in the bundles alike. */
export const BUSY_NOTICE_WAV = resolve(APP_ROOT, 'main', 'core', 'assets', 'busy-notice.wav');

/** The mark sent after the clip: its echo means the caller heard the whole notice. */
export const BUSY_MARK = 'busy-notice-end';

/** `call.ended` reason of a call refused for capacity (the call records keep it as `end_reason`). */
export const BUSY_REASON = 'busy';

/** The clip as outbound frames. */
export function loadBusyNotice(path = BUSY_NOTICE_WAV): OutboundFrame[] {
  return loadClip(path);
}

/** The busy notice for a call from `from` while `capacity` calls are being served. */
export function busyNotice(capacity: number, from: string | null): NoticeKind {
  return {
    reason: BUSY_REASON,
    mark: BUSY_MARK,
    clip: BUSY_NOTICE_WAV,
    label: 'busy',
    closeText: 'all lines are busy',
    startLine: `call refused: all ${capacity} lines are busy (PARLEY_MAX_CALLS = ${capacity}); playing the busy notice, then hanging up`,
    error: (heard, reason) => ({
      code: 'BUSY',
      message:
        `A call from ${from ?? 'an unknown number'} was refused: all ${capacity} lines were busy (setting PARLEY_MAX_CALLS). ` +
        (heard ? 'The caller heard the busy notice and was hung up.' : `It ended during the busy notice (${reason.slice(BUSY_REASON.length + 2)}).`),
    }),
  };
}
