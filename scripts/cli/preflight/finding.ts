// What one check found: a problem stops the deploy (exit 1), a warning does not, a skipped check says why.

export type Level = 'ok' | 'problem' | 'warning' | 'skipped'

export interface Finding {
  level: Level
  check: string
  message: string
}

export const ok = (check: string, message: string): Finding => ({ level: 'ok', check, message })
export const problem = (check: string, message: string): Finding => ({ level: 'problem', check, message })
export const warning = (check: string, message: string): Finding => ({ level: 'warning', check, message })
export const skipped = (check: string, message: string): Finding => ({ level: 'skipped', check, message })
