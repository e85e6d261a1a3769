// Cutting a batch into chunks, and translating a chunk to claim and settle calls and back (pure).
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { claimChunks, MAX_CHUNK } from '../../../shared/fleet/chunks.js'
import { type ClaimState, claimCalls, claimStates, settleCalls } from '../../../shared/fleet/claims.js'
import { messageKey, ownerPrefix } from '../../../shared/fleet/keys.js'

describe('chunks', () => {
  test('small first, growing fourfold to MAX_CHUNK, covering the batch in order', () => {
    const sizes = (n: number, m?: number) => claimChunks(n, m).map(([a, b]) => b - a)
    assert.deepEqual(sizes(0), [])
    assert.deepEqual(sizes(10), [10])
    assert.deepEqual(sizes(1000), [64, 256, 680])
    assert.deepEqual(sizes(10_000), [64, 256, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 1024, 464])
    for (const n of [1, 63, 64, 65, 321, 5000]) {
      const chunks = claimChunks(n)
      assert.equal(chunks[0]![0], 0)
      for (let i = 1; i < chunks.length; i++) assert.equal(chunks[i]![0], chunks[i - 1]![1])
      assert.equal(chunks.at(-1)![1], n)
      assert.ok(chunks.every(([a, b]) => b - a <= MAX_CHUNK))
    }
  })

  test('with the fleet rate, every chunk but the last holds whole bursts', () => {
    assert.deepEqual(
      claimChunks(1000, 40).map(([a, b]) => b - a),
      [80, 280, 640],
    )
    assert.deepEqual(
      claimChunks(5000, 300).map(([a, b]) => b - a),
      [300, 300, 1200, 1200, 1200, 800],
    )
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

  test('one CLAIM per rule, the owner record first, every key in the rule`s hash slot', () => {
    const { calls, positions } = claimCalls(members, 'tok.0', 30_000.4, 86_400_000)
    assert.deepEqual(positions, [[0, 3], [1]])
    assert.deepEqual(calls, [
      {
        script: 'fleetClaim',
        keys: ['rmqb:o:{commands}:tok.0', 'rmqb:m:{commands}:M1:Zm9vYmFy', 'rmqb:m:{commands}:M4:Zm9vYmFy'],
        args: ['tok.0', 30_001, 86_400_000, 'rmqb:o:{commands}:'],
      },
      {
        script: 'fleetClaim',
        keys: ['rmqb:o:{telemetry}:tok.0', 'rmqb:m:{telemetry}:M2:Zm9vYmFy'],
        args: ['tok.0', 30_001, 86_400_000, 'rmqb:o:{telemetry}:'],
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
