// The hostile corpus (test/fixtures/hostile-corpus.ts), every case, through the bridge's own planning
// step (previewEvent: the parse -> map -> in-batch duplicates the bridge runs before it publishes), with
// no broker: what is published, what is a dead letter and why, and that the good neighbours of a bad
// entry still publish, unchanged.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { previewEvent } from '../../../shared/bridge/preview.js'
import { loadRuleSet } from '../../../shared/rules/load.js'
import { goodMessage, HOSTILE } from '../../fixtures/hostile-corpus.js'
import { SCENARIO_RULES } from '../../helpers/scenario.js'

const rules = loadRuleSet(undefined, () => ({ text: SCENARIO_RULES, origin: 'scenario' }))

describe('hostile corpus, planned without a broker', () => {
  HOSTILE.forEach((c, n) => {
    test(c.name, () => {
      const tag = `U${n}`
      const event = c.event(tag)

      const preview = previewEvent(event, rules)

      assert.deepEqual(
        preview.publishes.map((p) => ({ at: p.index, topic: p.topic, qos: p.qos, payload: p.payloadText, messageId: p.messageId })),
        c.goodAt.map((i) => {
          const { topic, qos, payload, messageId } = goodMessage(tag, i)
          return { at: i, topic, qos, payload, messageId }
        }),
        'exactly the good neighbours publish, unchanged',
      )
      assert.deepEqual(
        preview.deadLetters.map((d) => d.index),
        c.deadLetters.map((d) => d.at),
        'dead letters at',
      )
      c.deadLetters.forEach((d, k) => {
        assert.match(preview.deadLetters[k]!.reason, d.reason)
      })
      assert.equal(preview.duplicates, c.duplicates ?? 0, 'duplicates')
      // Every entry is accounted for: published, a dead letter, or a repeat of one published.
      assert.equal(preview.publishes.length + preview.deadLetters.length + preview.duplicates, preview.received)
    })
  })
})
