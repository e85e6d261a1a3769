// The functions' names in s.yaml, for the tools that invoke them by name.

/** The bridge: what redrive, `npm run replay -- --target fc` and `npm run smoke` invoke by default. */
export const BRIDGE_FUNCTION = 'rocketmq-mqtt-bridge'
