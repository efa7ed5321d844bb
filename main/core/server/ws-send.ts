import type { WebSocket } from 'ws';

/**
 * Send on an open WebSocket unless its peer stopped reading: with more than `maxBuffered` bytes already queued the
 * socket is terminated instead (its 'close' follows) after `onStalled` is told how much was queued, so memory never
 * grows without bound for a reader that went away. The media stream, the /desk socket and the GUI bridge use it.
 */
export function sendUnlessStalled(ws: WebSocket, data: string, maxBuffered: number, onStalled: (buffered: number) => void): void {
  if (ws.readyState !== ws.OPEN) return;
  if (ws.bufferedAmount > maxBuffered) {
    onStalled(ws.bufferedAmount);
    ws.terminate();
    return;
  }
  ws.send(data);
}
