// Stands in for the `ws` package in the bridge bundle: MQTT.js needs it only for ws:// and wss:// URLs, so
// the library (and the http, https and zlib modules it loads) is a file beside the bundle, ws.js,
// required on the first WebSocket connection instead of at every cold start.
let lib
function ws() {
  lib ??= require('./ws.js')
  return lib
}
// MQTT.js calls `new WebSocket(url, protocols, options)` and `WebSocket.createWebSocketStream(socket, options)`.
function WebSocket(...args) {
  return new (ws())(...args)
}
WebSocket.createWebSocketStream = (...args) => ws().createWebSocketStream(...args)
module.exports = WebSocket
