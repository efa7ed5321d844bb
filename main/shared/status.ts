/** Readiness as the GUI and the control API see it: the status board (`GET /status`) and the setup doctor. */

export type StatusComponent = 'server' | 'tunnel' | 'twilio';

export interface ComponentStatus {
  ok: boolean;
  /** What is going on; when not ok, what to do about it. */
  detail: string;
}

/** The call records' health: writes that failed (a full disk, a folder that became unwritable). */
export interface RecordsStatus extends ComponentStatus {
  /** false while record writes are failing (the last one failed). */
  ok: boolean;
  /** Record writes that failed since start (each one a lost event, turn or recording size). */
  failedWrites: number;
}

export interface CoreStatus {
  server: ComponentStatus & { url: string | null };
  tunnel: ComponentStatus & { url: string | null };
  twilio: ComponentStatus;
  /** Absent from a core that keeps no records. */
  records?: RecordsStatus;
}

export interface DoctorCheck {
  id: string;
  title: string;
  /** true: fine; false: needs fixing; null: skipped (does not apply, or depends on a failed check). */
  ok: boolean | null;
  detail: string;
  /** What to do next ('' when ok). */
  fix: string;
}

export interface DoctorReport {
  /** false when any check failed. */
  ok: boolean;
  checks: DoctorCheck[];
}
