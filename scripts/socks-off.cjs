// Stands in for the `socks` package in the bridge bundle: MQTT.js loads it for SOCKS proxies, which the
// bridge never configures, and its 70 KB cost cold-start time on every instance.
function unsupported() {
  throw new Error('SOCKS proxies are not supported by the bridge bundle')
}
module.exports = { SocksClient: { createConnection: unsupported }, default: { SocksClient: { createConnection: unsupported } } }
