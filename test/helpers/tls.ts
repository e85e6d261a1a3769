export { makeCertificates, type TestCertificates } from '../../scripts/mqtt/mosquitto.js'
