/** The SendCampaignMessage pipeline step: SQS records of send jobs in, provider calls made exactly once in effect. */
export {
  createRecordProcessor,
  createSendCampaignMessageProcessor,
  DEFAULT_CLAIM_TIMEOUT_MS,
  type RecordOutcome,
  type SendCampaignMessageDeps,
  type SqsBatchEvent,
  type SqsBatchResponse,
} from './processor.js'
export {findTwilioMessage, type TwilioLookup, type TwilioMessageLister} from './twilio-lookup.js'
