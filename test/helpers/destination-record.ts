// What the dead-letter store makes of Function Compute's destination record for an invocation whose retries
// ran out (docs/platform-facts.md §5): the entries the store would put, as the redrive and replay tests need them.
import { recognise } from '../../shared/dead-letters/store/intake.js'
import type { NewEntry } from '../../shared/dead-letters/store/store.js'

/** The entries of a failed invocation of `batch`, failed with `errorType` (the bridge's own is DeliveryError). */
export function failedInvocation(requestId: string, batch: unknown[], errorType = 'DeliveryError'): NewEntry[] {
  const record = {
    timestamp: Date.now(),
    requestContext: { requestId, condition: 'UnhandledInvocationError', approximateInvokeCount: 4 },
    requestPayload: JSON.stringify(batch),
    responseContext: { statusCode: 200, functionError: 'UnhandledInvocationError' },
    responsePayload: JSON.stringify({
      errorMessage: `${batch.length} of ${batch.length} messages not delivered`,
      errorType,
    }),
  }
  return (recognise(Buffer.from(JSON.stringify(record)), Date.now(), 'dl') as { entries: NewEntry[] }).entries
}
