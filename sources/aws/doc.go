// Package aws brings the provider's word and the provider's graphs into
// opsview: the public AWS Health Dashboard feeds (type "aws-status", no
// credentials), the account's AWS Health API events (type "aws-health") and
// CloudWatch GetMetricData series (type "cloudwatch").
//
// It turns AWS answers into the sources data model and nothing else: it must
// not retry on its own (the SDK retryer is limited to one attempt; the
// opsview scheduler retries), must not keep more than the little state AWS
// asks it to keep (a throttling or missing-support-plan back-off, caches of
// event details), must never log credentials, and must read every body from
// outside through a bounded reader.
package aws
