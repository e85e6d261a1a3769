// The fleet store's Lua scripts. Each runs atomically in Redis, so every claim is one conditional write and
// no instance ever locks or sleeps to decide (Powertools' idempotency utility is the model).
//
// The states of a message key (keys.ts), and who moves it:
//
//   absent --claim--> <owner>  (PX claim TTL + DUPLICATE_WINDOW)   the owner is one chunk of one invocation
//   <owner> --settle, not delivered--> absent                      released, so a retry may claim it at once
//
// and the states of an owner record, which a key's value points at:
//
//   'run'  (PX the claim TTL: until the owner's invocation is certainly over) --settle--> 'done' (PX the window)
//   'run'  expires: the owner died; its keys are taken over by the next claim
//
// So a key is complete when its owner is 'done', in progress while its owner is 'run', and abandoned when its
// owner record is gone. Completing a chunk is one write, not one per key. A key outlives its owner's 'run' (the
// claim TTL) by the window, so a running owner's key never expires under it, whatever DUPLICATE_WINDOW is; and
// a 'done' owner lives the window from its settling, which ends before its claim TTL does, so a key is
// remembered at least the window after its message was delivered. Every key of one script shares the rule's
// hash tag, so the scripts run on a Tair or Redis cluster too (one slot each).

/**
 * KEYS[1] the owner record, KEYS[2..] the message keys; ARGV: owner, claim TTL ms, key TTL ms (the claim TTL
 * plus the window), the owner-record key prefix. Returns the keys not simply claimed, as pairs: position (from
 * 1), then `d` (complete: a duplicate), `b` (busy: its owner is still working) or `t` (taken over from an owner
 * that died, and now claimed).
 */
export const CLAIM = `
redis.call('SET', KEYS[1], 'run', 'PX', ARGV[2])
local out, owners = {}, {}
for i = 2, #KEYS do
  local k = KEYS[i]
  if not redis.call('SET', k, ARGV[1], 'PX', ARGV[3], 'NX') then
    local holder = redis.call('GET', k)
    if not holder then
      redis.call('SET', k, ARGV[1], 'PX', ARGV[3])
    elseif holder ~= ARGV[1] then
      local state = owners[holder]
      if state == nil then
        state = redis.call('GET', ARGV[4] .. holder) or 'gone'
        owners[holder] = state
      end
      if state == 'done' then
        out[#out + 1] = i - 1
        out[#out + 1] = 'd'
      elseif state == 'run' then
        out[#out + 1] = i - 1
        out[#out + 1] = 'b'
      else
        redis.call('SET', k, ARGV[1], 'PX', ARGV[3])
        out[#out + 1] = i - 1
        out[#out + 1] = 't'
      end
    end
  end
end
return out
`

/**
 * KEYS[1] the owner record, KEYS[2..] the keys to release (claimed by this owner, not delivered); ARGV: owner,
 * window ms, '1' when the owner delivered anything. Releases first, then completes: a key not delivered is
 * never left pointing at a 'done' owner. Returns how many keys were released.
 */
export const SETTLE = `
local released = 0
for i = 2, #KEYS do
  if redis.call('GET', KEYS[i]) == ARGV[1] then
    redis.call('DEL', KEYS[i])
    released = released + 1
  end
end
if ARGV[3] == '1' then
  redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2])
else
  redis.call('DEL', KEYS[1])
end
return released
`

/**
 * A token bucket shared by the fleet, on the store's clock (TIME), so instances' clocks never matter; a grant
 * is a reservation (as Go's rate.Limiter.Reserve): `want` permits, usable after the returned delay, when the
 * bucket will have held them. Tokens may go below zero, so callers are served in the order they asked and
 * none is ever refused and told to come back: one round trip buys one grant. A grant that could not start
 * within `maxDelay` is not made (nothing is taken).
 * KEYS[1] the bucket, KEYS[2] the grant log (a capped stream); ARGV: rate per second, capacity (one burst),
 * permits wanted (at most the capacity), the longest acceptable delay in ms, who asks.
 * Returns {granted, delayMs}: granted is `want` or 0.
 *
 * The bucket counts thousandths of a permit, so a millisecond refills exactly `rate` of them and every figure
 * is a whole number: with fractional permits a float's rounding could name a delay one millisecond late
 * (64.4 owed at 400/s: 161.00000000000003 ms, so 162), and the next grant would start one millisecond less than
 * a refill after it.
 */
export const RATE = `
if redis.replicate_commands then redis.replicate_commands() end
local rate, cap, want, maxDelay = tonumber(ARGV[1]), tonumber(ARGV[2]) * 1000, tonumber(ARGV[3]) * 1000, tonumber(ARGV[4])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'milli', 'at')
local milli, at = tonumber(b[1]) or cap, tonumber(b[2]) or now
milli = math.min(cap, milli + math.max(0, now - at) * rate)
local delay = 0
if milli < want then delay = math.floor((want - milli + rate - 1) / rate) end
local granted = 0
if delay <= maxDelay then
  granted = tonumber(ARGV[3])
  milli = milli - want
end
redis.call('HSET', KEYS[1], 'milli', string.format('%d', milli), 'at', string.format('%d', now))
redis.call('PEXPIRE', KEYS[1], math.floor((cap - milli + rate - 1) / rate) + 1000)
redis.call('XADD', KEYS[2], 'MAXLEN', '~', '1000', '*', 'who', ARGV[5], 'want', ARGV[3], 'granted', granted, 'at', string.format('%d', now), 'delay', delay)
return {granted, delay}
`
