export { freePort } from '../../scripts/mqtt/mosquitto.js'
