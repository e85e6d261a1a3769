// Per-topic order after a transient failure, for messages without a message group (group-order.ts keeps the
// groups'). A message that failed for a transient reason is published again by the retry; a later message
// of its topic written now would reach subscribers before it. So, as a broken group does, the topic's later
// messages not yet written in this invocation are not sent and fail as well (the map outlives the pass, as
// the broken groups do). Messages already written when the failure became known cannot be called back.

/** Topics whose message failed in this invocation, each with the reason its later messages give. */
export type FailedTopics = Map<string, string>

/** Why a message on `topic` is not to be written: an earlier message of its topic failed in this invocation. */
export function blockedBy(failed: FailedTopics, topic: string): string | undefined {
  return failed.get(topic)
}

/** Why a later message of a topic whose message failed for a transient reason (`cause`) is not sent. */
export const heldBack = (cause: string) =>
  `not sent: an earlier message of its topic was not delivered (${cause}); the batch is retried so that the topic keeps its order`

/** A message on `topic` failed for a transient reason (`cause`): the topic's later messages stay unsent. */
export function topicFailed(failed: FailedTopics, topic: string, cause: string): void {
  if (!failed.has(topic)) failed.set(topic, heldBack(cause))
}
