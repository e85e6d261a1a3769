// ApsaraMQ for MQTT signature authentication (docs/platform-facts.md §3): username Signature|<AccessKeyId>|<InstanceId>,
// password Base64(HMAC-SHA1(AccessKeySecret, clientId)), computed per connection for its own client ID.
import { createHmac } from 'node:crypto'

export type MqttAuth =
  | { kind: 'none' }
  | { kind: 'password'; username: string; password?: string }
  | { kind: 'signature'; instanceId: string; accessKeyId: string; accessKeySecret: string }

export function signaturePassword(accessKeySecret: string, clientId: string): string {
  return createHmac('sha1', accessKeySecret).update(clientId, 'utf8').digest('base64')
}

/** The username and password a connection with this client ID presents. */
export function credentialsFor(auth: MqttAuth, clientId: string): { username?: string; password?: string } {
  switch (auth.kind) {
    case 'none':
      return {}
    case 'password':
      return { username: auth.username, ...(auth.password !== undefined ? { password: auth.password } : {}) }
    case 'signature':
      return { username: `Signature|${auth.accessKeyId}|${auth.instanceId}`, password: signaturePassword(auth.accessKeySecret, clientId) }
  }
}
