// Cutting a batch into chunks, and translating a chunk to claim and settle calls and back (pure).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { claimChunks, MAX_CHUNK, MIN_CHUNK } from '../../../shared/fleet/chunks.js'
import { type ClaimState, claimCalls, claimStates, settleCalls } from '../../../shared/fleet/claims.js'
import { messageKey, ownerPrefix } from '../../../shared/fleet/keys.js'

describe('chunks', () => {
  test('each half of what is left, at most MAX_CHUNK and at least MIN_CHUNK, so the last claim is small', () => {
    assert.deepEqual(claimChunks(0), [])
    assert.deepEqual(claimChunks(10), [10])
    assert.deepEqual(claimChunks(300), [150, 75, 38, 32, 5])
    assert.deepEqual(claimChunks(1000), [256, 256, 244, 122, 61, 32, 29])
    for (const n of [1, 31, 32, 33, 64, 257, 1000, 10_000]) {
      const sizes = claimChunks(n)
      assert.equal(
        sizes.reduce((a, b) => a + b, 0),
        n,
      )
      assert.ok(sizes.every((s) => s <= MAX_CHUNK))
      assert.ok(sizes.slice(0, -1).every((s) => s >= MIN_CHUNK))
      assert.ok(sizes.at(-1)! <= MIN_CHUNK || sizes.length === 1)
    }
  })
})

describe('claim and settle calls', () => {
  const key = (rule: string, id: string) => messageKey(rule, id, 'Zm9vYmFy')
  const members = [
    { ruleId: 'commands', key: key('commands', 'M1') },
    { ruleId: 'telemetry', key: key('telemetry', 'M2') },
    { ruleId: 'commands', key: undefined },
    { ruleId: 'commands', key: key('commands', 'M4') },
  ]

  test('one CLAIM per rule, the owner record first, every key in the rule`s hash slot, kept the claim TTL plus the window', () => {
    const { calls, positions } = claimCalls(members, 'tok.0', 30_000.4, 86_400_000)
    assert.deepEqual(positions, [[0, 3], [1]])
    assert.deepEqual(calls, [
      {
        script: 'fleetClaim',
        keys: ['rmqb:o:{commands}:tok.0', 'rmqb:m:{commands}:M1:Zm9vYmFy', 'rmqb:m:{commands}:M4:Zm9vYmFy'],
        args: ['tok.0', 30_001, 30_001 + 86_400_000, 'rmqb:o:{commands}:'],
      },
      {
        script: 'fleetClaim',
        keys: ['rmqb:o:{telemetry}:tok.0', 'rmqb:m:{telemetry}:M2:Zm9vYmFy'],
        args: ['tok.0', 30_001, 30_001 + 86_400_000, 'rmqb:o:{telemetry}:'],
      },
    ])
    assert.equal(ownerPrefix('commands'), 'rmqb:o:{commands}:')
  })

  test('replies name only the keys not simply claimed; a message without an ID is unkeyed', () => {
    const { positions } = claimCalls(members, 'tok.0', 1000, 1000)
    assert.deepEqual(claimStates(members, positions, [[], []]), ['claimed', 'claimed', 'unkeyed', 'claimed'])
    assert.deepEqual(
      claimStates(members, positions, [
        [2, 'd', 1, 'b'],
        [1, 't'],
      ]),
      ['busy', 'taken-over', 'unkeyed', 'duplicate'],
    )
    assert.throws(() => claimStates(members, positions, [[3, 'd'], []]), /unexpected reply to a claim/)
    assert.throws(() => claimStates(members, positions, [[1, 'x'], []]), /unexpected reply to a claim/)
    assert.throws(() => claimStates(members, positions, ['OK', []]), /unexpected reply to a claim/)
  })

  test('settling releases what was ours and not delivered, and completes an owner that delivered anything', () => {
    const states: ClaimState[] = ['claimed', 'taken-over', 'unkeyed', 'busy']
    const { calls, released } = settleCalls(members, states, (i) => i === 0, 'tok.0', 5000)
    assert.equal(released, 1)
    assert.deepEqual(calls, [
      // M4 was busy (not ours): never released by us.
      { script: 'fleetSettle', keys: ['rmqb:o:{commands}:tok.0'], args: ['tok.0', 5000, '1'] },
      { script: 'fleetSettle', keys: ['rmqb:o:{telemetry}:tok.0', 'rmqb:m:{telemetry}:M2:Zm9vYmFy'], args: ['tok.0', 5000, '0'] },
    ])
  })
})
