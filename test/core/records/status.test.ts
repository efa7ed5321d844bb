/** The call records' health where a user looks: the status board (`/status`, the GUI) and `/health`. */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { CoreEvent } from '../../../main/core/event-bus.ts';
import { StatusBoard } from '../../../main/core/status-board.ts';
import { startTestCore, type TestCore } from '../../helpers/core.ts';

let t: TestCore;
beforeAll(async () => {
  t = await startTestCore();
}, 60_000);
afterAll(async () => {
  await t.stop();
});

it('the status board carries the failed-write count and says so in a server.status event, once per change', () => {
  const emitted: CoreEvent[] = [];
  const board = new StatusBoard((e) => emitted.push(e));
  expect(board.get().records).toBeUndefined();
  const failing = { ok: false, failedWrites: 2, detail: '2 call-record writes failed (last: database or disk is full)' };
  board.setRecords(failing);
  board.setRecords({ ...failing });
  expect(board.get().records).toEqual(failing);
  expect(emitted).toEqual([expect.objectContaining({ type: 'server.status', component: 'records', ok: false, failedWrites: 2, detail: failing.detail })]);
});

it('/health says whether call records are being written, with the failed-write count', async () => {
  const body = await (await fetch(`${t.url}/health`)).json();
  expect(body.records).toEqual({ ok: true, failedWrites: 0, detail: 'writing call records' });
});
