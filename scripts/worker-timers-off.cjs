// Stands in for `worker-timers` in the bridge bundle: MQTT.js uses those timers only in a browser, never in
// Node, and the package with its worker brokers is 30 KB of cold start on every instance.
function unsupported() {
  throw new Error('worker timers are for browsers; the bridge bundle runs MQTT.js with native timers')
}
module.exports = { setInterval: unsupported, clearInterval: unsupported, setTimeout: unsupported, clearTimeout: unsupported }
