// What one preflight check found. A problem stops the deploy (exit 1); a warning is printed and does not;
// a skipped check says why it could not run.

export type Level = 'ok' | 'problem' | 'warning' | 'skipped'

export interface Finding {
  level: Level
  /** The check, as the checklist names it. */
  check: string
  message: string
}

export const ok = (check: string, message: string): Finding => ({ level: 'ok', check, message })
export const problem = (check: string, message: string): Finding => ({ level: 'problem', check, message })
export const warning = (check: string, message: string): Finding => ({ level: 'warning', check, message })
export const skipped = (check: string, message: string): Finding => ({ level: 'skipped', check, message })
