/**
 * The process table from /proc (Linux): what the benches read for the memory and CPU of the plugin workers and
 * their children. Elsewhere every figure is 0.
 */
import { readFileSync, readdirSync } from 'node:fs';

export interface ProcInfo {
  pid: number;
  ppid: number;
  rssBytes: number;
  /** User + system CPU time so far. */
  cpuSeconds: number;
}

/** Every process's parent, resident memory and CPU time; empty when /proc is not there. */
export function readProcTable(): Map<number, ProcInfo> {
  const table = new Map<number, ProcInfo>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return table; // not Linux
  }
  for (const entry of entries) {
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const pid = Number(entry);
      table.set(pid, { pid, ppid: Number(f[1]), rssBytes: Number(f[21]) * 4096, cpuSeconds: (Number(f[11]) + Number(f[12])) / 100 });
    } catch {
      // gone
    }
  }
  return table;
}

/** `root`'s descendants (children, grandchildren, …), not `root` itself. */
export function descendants(root: number, table = readProcTable()): ProcInfo[] {
  const out: ProcInfo[] = [];
  const walk = (pid: number) => {
    for (const p of table.values()) {
      if (p.ppid !== pid) continue;
      out.push(p);
      walk(p.pid);
    }
  };
  walk(root);
  return out;
}

/** Resident memory of `parent`'s direct children (a plugin worker). */
export function childRssBytes(parent = process.pid): number {
  let total = 0;
  for (const p of readProcTable().values()) if (p.ppid === parent) total += p.rssBytes;
  return total;
}

/** Resident memory of all of `root`'s descendants (a plugin worker and its ONNX child). */
export function descendantRssBytes(root = process.pid): number {
  return descendants(root).reduce((n, p) => n + p.rssBytes, 0);
}

/** CPU seconds used by `root` and all its descendants (a server and its plugin workers). */
export function treeCpuSeconds(root: number): number {
  const table = readProcTable();
  return (table.get(root)?.cpuSeconds ?? 0) + descendants(root, table).reduce((n, p) => n + p.cpuSeconds, 0);
}
