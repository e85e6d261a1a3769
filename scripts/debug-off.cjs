// Stands in for the `debug` package in the bridge bundle: MQTT.js logs through it on every packet, and
// the checks cost time on the hot path. Same shape, never enabled.
function createDebug() {
  const log = () => {}
  log.enabled = false
  log.extend = createDebug
  log.log = log
  log.destroy = () => {}
  return log
}
createDebug.enable = () => {}
createDebug.disable = () => ''
createDebug.enabled = () => false
createDebug.debug = createDebug
createDebug.default = createDebug
module.exports = createDebug
