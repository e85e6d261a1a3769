// The MQTT UTF-8 string rules every string the bridge sends must follow.

export /** MQTT UTF-8 strings: well-formed, no NUL, at most 65535 bytes. */
function mqttStringProblem(s: string): string | undefined {
  if (!s.isWellFormed()) return 'not well-formed Unicode'
  if (s.includes('\u0000')) return 'contains a NUL character'
  if (Buffer.byteLength(s, 'utf8') > 65535) return 'longer than 65535 bytes'
  return undefined
}
