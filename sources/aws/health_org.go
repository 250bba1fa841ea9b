package aws

import (
	"context"
	"sort"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/health"
	htypes "github.com/aws/aws-sdk-go-v2/service/health/types"

	"github.com/opsview/opsview/sources"
)

// maxOrgAccounts bounds the accounts asked about per event: details and
// entities are per account, and an organization-wide event could touch
// hundreds.
const maxOrgAccounts = 20

// describeOrgEvents lists the organization's open, upcoming and recently
// closed events in one listing (its filter takes one update window).
func (s *HealthSource) describeOrgEvents(ctx context.Context, now time.Time) ([]htypes.Event, error) {
	list := func(f *htypes.OrganizationEventFilter) ([]htypes.Event, error) {
		var out []htypes.Event
		in := &health.DescribeEventsForOrganizationInput{Filter: f, MaxResults: sdkaws.Int32(healthPageSize)}
		for page := 0; page < healthMaxPages; page++ {
			var resp *health.DescribeEventsForOrganizationOutput
			err := s.call(ctx, func(c *health.Client) error {
				var err error
				resp, err = c.DescribeEventsForOrganization(ctx, in)
				return err
			})
			if err != nil {
				return nil, err
			}
			for _, e := range resp.Events {
				out = append(out, htypes.Event{
					Arn: e.Arn, Service: e.Service, EventTypeCode: e.EventTypeCode, EventTypeCategory: e.EventTypeCategory,
					EventScopeCode: e.EventScopeCode, Region: e.Region, StartTime: e.StartTime, EndTime: e.EndTime,
					LastUpdatedTime: e.LastUpdatedTime, StatusCode: e.StatusCode,
				})
			}
			if resp.NextToken == nil || *resp.NextToken == "" {
				break
			}
			in.NextToken = resp.NextToken
		}
		return out, nil
	}
	open, err := list(&htypes.OrganizationEventFilter{
		EventStatusCodes: []htypes.EventStatusCode{htypes.EventStatusCodeOpen, htypes.EventStatusCodeUpcoming},
		Regions:          s.regions, Services: s.services,
	})
	if err != nil {
		return nil, err
	}
	closed, err := list(&htypes.OrganizationEventFilter{
		EventStatusCodes: []htypes.EventStatusCode{htypes.EventStatusCodeClosed},
		LastUpdatedTime:  &htypes.DateTimeRange{From: sdkaws.Time(now.Add(-s.recent))},
		Regions:          s.regions, Services: s.services,
	})
	return append(open, closed...), err
}

// fetchOrgDetails is fetchDetails for the organization view: details and
// entities are asked per (event, account); a public event has no account.
func (s *HealthSource) fetchOrgDetails(ctx context.Context, evs []htypes.Event) error {
	stale, updated := s.staleEvents(evs)
	scope := map[string]htypes.EventScopeCode{}
	for _, e := range evs {
		scope[sdkaws.ToString(e.Arn)] = e.EventScopeCode
	}
	fresh := map[string]eventDetail{}
	var filters []htypes.EventAccountFilter
	for _, arn := range stale {
		d := eventDetail{updated: updated[arn], haveEnts: true}
		if scope[arn] == htypes.EventScopeCodePublic {
			filters = append(filters, htypes.EventAccountFilter{EventArn: sdkaws.String(arn)})
			fresh[arn] = d
			continue
		}
		in := &health.DescribeAffectedAccountsForOrganizationInput{EventArn: sdkaws.String(arn), MaxResults: sdkaws.Int32(healthPageSize)}
		for page := 0; page < healthMaxPages && len(d.accounts) < maxOrgAccounts; page++ {
			var resp *health.DescribeAffectedAccountsForOrganizationOutput
			err := s.call(ctx, func(c *health.Client) error {
				var err error
				resp, err = c.DescribeAffectedAccountsForOrganization(ctx, in)
				return err
			})
			if err != nil {
				return err
			}
			for _, a := range resp.AffectedAccounts {
				d.accounts = append(d.accounts, sources.Clean(a))
			}
			if resp.NextToken == nil || *resp.NextToken == "" {
				break
			}
			in.NextToken = resp.NextToken
		}
		if len(d.accounts) > maxOrgAccounts {
			d.accounts = d.accounts[:maxOrgAccounts]
		}
		sort.Strings(d.accounts)
		for _, a := range d.accounts {
			filters = append(filters, htypes.EventAccountFilter{EventArn: sdkaws.String(arn), AwsAccountId: sdkaws.String(a)})
		}
		fresh[arn] = d
	}
	for lo := 0; lo < len(filters); lo += healthArnsPerCall {
		batch := filters[lo:min(lo+healthArnsPerCall, len(filters))]
		var resp *health.DescribeEventDetailsForOrganizationOutput
		err := s.call(ctx, func(c *health.Client) error {
			var err error
			resp, err = c.DescribeEventDetailsForOrganization(ctx, &health.DescribeEventDetailsForOrganizationInput{OrganizationEventDetailFilters: batch})
			return err
		})
		if err != nil {
			return err
		}
		for _, det := range resp.SuccessfulSet {
			if det.Event == nil || det.EventDescription == nil {
				continue
			}
			arn := sdkaws.ToString(det.Event.Arn)
			if d, ok := fresh[arn]; ok && d.description == "" {
				d.description = sdkaws.ToString(det.EventDescription.LatestDescription)
				fresh[arn] = d
			}
		}
		for _, f := range resp.FailedSet {
			s.logf("aws-health %q: details of %s for %s: %s: %s", s.name, sources.Clean(sdkaws.ToString(f.EventArn)),
				sources.Clean(sdkaws.ToString(f.AwsAccountId)), sources.Clean(sdkaws.ToString(f.ErrorName)), sources.Clean(sdkaws.ToString(f.ErrorMessage)))
		}
	}
	if s.entities {
		var entFilters []htypes.EventAccountFilter
		for _, f := range filters {
			if f.AwsAccountId != nil { // public events have no resources of ours
				entFilters = append(entFilters, f)
			}
		}
		for lo := 0; lo < len(entFilters); lo += healthArnsPerCall {
			in := &health.DescribeAffectedEntitiesForOrganizationInput{
				OrganizationEntityFilters: entFilters[lo:min(lo+healthArnsPerCall, len(entFilters))],
				MaxResults:                sdkaws.Int32(healthPageSize),
			}
			for page := 0; page < healthMaxPages; page++ {
				var resp *health.DescribeAffectedEntitiesForOrganizationOutput
				err := s.call(ctx, func(c *health.Client) error {
					var err error
					resp, err = c.DescribeAffectedEntitiesForOrganization(ctx, in)
					return err
				})
				if err != nil {
					return err
				}
				for _, ent := range resp.Entities {
					arn := sdkaws.ToString(ent.EventArn)
					if d, ok := fresh[arn]; ok {
						d.entities = append(d.entities, ent)
						fresh[arn] = d
					}
				}
				if resp.NextToken == nil || *resp.NextToken == "" {
					break
				}
				in.NextToken = resp.NextToken
			}
		}
	}
	s.mu.Lock()
	for arn, d := range fresh {
		s.details[arn] = d
	}
	s.mu.Unlock()
	return nil
}
