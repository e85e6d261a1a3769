// The EventBridge delivery settings a rule's trigger gets when neither it nor `defaults.trigger` says otherwise
// (shared/fc/triggers.ts writes them; the validator holds deadlines against the batching window). Its own
// module, with nothing to import, so that the rules may read it without an import cycle.
import type { TriggerSettings } from './schema.js'

/** What a rule gets when neither it nor `defaults.trigger` says otherwise. */
export const DEFAULT_TRIGGER_SETTINGS: Required<TriggerSettings> = {
  // Small batches: an asynchronous invocation carries at most 128 KB (docs/platform-facts.md §4).
  batchSize: 10,
  batchWindowSeconds: 1,
  retryStrategy: 'BACKOFF_RETRY',
  // EventBridge's own default: a push that keeps failing blocks the stream instead of being skipped silently.
  errorsTolerance: 'NONE',
}
