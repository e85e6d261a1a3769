// A small terminal bar chart: one column per time slot, eighth-block characters for the top of each bar,
// the largest value on the axis. People read a shape faster than a column of numbers.

const EIGHTHS = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']

export interface Series {
  title: string
  /** One value per slot, oldest first; undefined: no data in that slot. */
  values: Array<number | undefined>
  /** The labels under the first and the last slot. */
  from: string
  to: string
  unit?: string
}

const fmt = (n: number) => (Number.isInteger(n) ? n.toLocaleString('en-US') : n.toFixed(1))

/** `height` rows; each slot `columns` characters wide (wider when there are few slots, so the shape shows). */
export function barChart(s: Series, height = 6, columns = 1): string[] {
  const max = Math.max(0, ...s.values.filter((v): v is number => v !== undefined))
  const unit = s.unit ? ` ${s.unit}` : ''
  const top = `${fmt(max)}${unit}`
  const pad = Math.max(top.length, 1)
  const lines = [`${s.title}`]
  for (let row = height; row >= 1; row--) {
    const cells = s.values.map((v) => {
      if (v === undefined || max === 0) return row === 1 && v !== undefined ? '▁' : ' '
      const scaled = (v / max) * height
      if (scaled >= row) return '█'
      if (scaled <= row - 1) return row === 1 && v > 0 ? '▁' : ' '
      return EIGHTHS[Math.max(1, Math.round((scaled - (row - 1)) * 8))]!
    })
    const label = row === height ? top : row === 1 ? `0${unit}` : ''
    lines.push(`${label.padStart(pad)} ${row === 1 ? '┼' : '┤'}${cells.map((c) => c.repeat(columns)).join('')}`)
  }
  const span = s.values.length * columns
  const gap = span - s.from.length - s.to.length
  const axis = gap >= 1 ? `${s.from}${' '.repeat(gap)}${s.to}` : `${s.from} to ${s.to}`
  lines.push(`${' '.repeat(pad)}  ${axis}`)
  return lines
}
