export { type LatencyProxy, type LatencyProxyOptions, mqttFilter, startLatencyProxy } from '../../scripts/bench/latency-proxy.js'
