// What the fleet store needs from the environment (FLEET_REDIS_URL and its companions, parsed by
// shared/config/bridge.ts; docs/deploying.md, "Environment variables").

export interface FleetSettings {
  /** FLEET_REDIS_URL as given: redis:// or rediss://, host, port, optional database; never with credentials. */
  url: string
  host: string
  port: number
  db: number
  /** rediss://: the CA bundle (FLEET_REDIS_CA_FILE) or verification off (FLEET_REDIS_TLS_INSECURE); never both. */
  tls?: { ca?: Buffer; insecure: boolean }
  username?: string
  password?: string
  /** DUPLICATE_WINDOW: how long a published message is remembered by the fleet, in ms. */
  windowMs: number
  /** FLEET_RATE_LIMIT: messages per second for all instances together; 0 = none. */
  rateLimit: number
}

export const DEFAULT_REDIS_PORT = 6379
