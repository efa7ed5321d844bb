/** A new call's tools: a lease on every tool plugin (unless `--tools none`), with the call's settings. */
import type { Config } from '../config.ts';
import type { CoreEvents } from '../event-bus.ts';
import type { Logger } from '../log.ts';
import type { ToolCallContext } from '../plugins/api.ts';
import type { Lease, PluginRegistry } from '../plugins/registry.ts';
import type { ActionHost } from './actions.ts';
import type { ApprovalDesk } from './approvals.ts';
import { CallTools } from './call-tools.ts';

export interface OpenToolsDeps {
  config: Pick<Config, 'tools' | 'toolTimeoutMs' | 'toolFiller'> & Partial<Pick<Config, 'askFirst' | 'approvalTimeoutMs' | 'approvalFiller' | 'transferNumber'>>;
  plugins: Pick<PluginRegistry, 'acquireTools'>;
  host: ActionHost;
  events: CoreEvents;
  log: Logger;
  call: ToolCallContext;
  /** Where ask-first tools wait for Approve / Deny (the core's one desk); without it nothing asks. */
  approvals?: ApprovalDesk;
}

/** Null when no tool plugin is installed or tools are off: the call then runs exactly as without tools. */
export function openCallTools(d: OpenToolsDeps): { tools: CallTools; leases: Lease<'tool'>[] } | null {
  if (d.config.tools.trim().toLowerCase() === 'none') return null;
  const leases = d.plugins.acquireTools();
  if (leases.length === 0) return null;
  const tools = new CallTools({
    leases,
    selection: d.config.tools,
    timeoutMs: d.config.toolTimeoutMs,
    filler: d.config.toolFiller,
    call: d.call,
    host: d.host,
    events: d.events,
    log: d.log.child({ callSid: d.call.callSid, component: 'tools' }),
    ...(d.approvals
      ? {
          approvals: {
            desk: d.approvals,
            askFirst: d.config.askFirst ?? '',
            timeoutMs: d.config.approvalTimeoutMs ?? 20_000,
            filler: d.config.approvalFiller ?? '',
            transferNumber: d.config.transferNumber ?? '',
          },
        }
      : {}),
  });
  return { tools, leases };
}
