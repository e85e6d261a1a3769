// ioredis (about 210 KB bundled) is loaded on first use only, so the bridge's cold start pays nothing for it
// when FLEET_REDIS_URL is unset. The build keeps it in a file beside the bundle (scripts/build.ts), as it
// does @alicloud/fc2 (docs/architecture.md, "Packages").
import type RedisClient from 'ioredis'

let loading: Promise<typeof RedisClient> | undefined

/** Loads ioredis once per process. */
export function loadIoredis(): Promise<typeof RedisClient> {
  loading ??= import('ioredis').then((m) => (m as { default?: typeof RedisClient }).default ?? (m as unknown as typeof RedisClient))
  return loading
}
