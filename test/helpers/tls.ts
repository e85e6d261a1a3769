export { makeCertificates, type TestCertificates } from '../../scripts/tls-certificates.js'
