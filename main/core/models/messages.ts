/**
 * The model manager's user-facing sentences, in one place so the CLI, the core and the GUI say the same thing.
 * Each names the file, the folder and the command that fixes it.
 */
export function pullCommand(modelId: string): string {
  return `npm run models -- pull ${modelId}`;
}

export function verifyCommand(modelId: string): string {
  return `npm run models -- verify ${modelId}`;
}

/** What a plugin (or the core) says when a model's files are not on disk. */
export function missingModelMessage(modelId: string): string {
  return `model missing — run \`${pullCommand(modelId)}\``;
}

export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes)) return '?';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** `resumable`: part of the file is kept, so pulling again continues where it stopped. */
export function downloadFailedMessage(args: { modelId: string; filePath: string; url: string; reason: string; destination: string; resumable?: boolean }): string {
  const head = `Could not download ${args.modelId}/${args.filePath} from ${args.url} (${args.reason}).`;
  const byHand = `copy the file by hand to ${args.destination}, then run \`${verifyCommand(args.modelId)}\`.`;
  return args.resumable
    ? `${head} Run \`${pullCommand(args.modelId)}\` again to resume where it stopped, or ${byHand}`
    : `${head} ${byHand.charAt(0).toUpperCase()}${byHand.slice(1)}`;
}

/** `duringWrite`: the disk filled up while writing (ENOSPC), rather than failing the check before starting. */
export function diskFullMessage(args: { modelId: string; folder: string; needed: number | null; free: number | null; duringWrite?: boolean }): string {
  const needed = args.needed === null ? 'more space than is left' : `${formatBytes(args.needed)} more`;
  const free = args.free === null ? '' : `, ${formatBytes(args.free)} free`;
  const head = args.duringWrite ? `The disk filled up while downloading ${args.modelId} into ${args.folder}` : `Not enough disk space for ${args.modelId} in ${args.folder}`;
  return (
    `${head}: it needs ${needed}${free}. ` +
    `Free some space (or point PARLEY_MODELS_DIR / --models-dir at a disk with room) and run \`${pullCommand(args.modelId)}\` again; ` +
    `what was already downloaded is kept and the download resumes.`
  );
}

export function checksumMismatchMessage(args: { modelId: string; filePath: string; expected: string; actual: string; source: 'manifest' | 'first-use'; removed: boolean }): string {
  const origin = args.source === 'manifest' ? "the plugin manifest's sha256" : 'the sha256 recorded when it was first downloaded (trust on first use)';
  const action = args.removed
    ? `The file was removed; run \`${pullCommand(args.modelId)}\` to download it again.`
    : `Run \`${pullCommand(args.modelId)}\` to download it again, or copy a good copy over it.`;
  return `${args.modelId}/${args.filePath} does not match ${origin}: expected ${args.expected}, got ${args.actual}. ${action}`;
}
