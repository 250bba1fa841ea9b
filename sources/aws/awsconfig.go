package aws

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go"
)

// Access is how a credentialed source reaches AWS: the SDK's default chain
// (environment, shared config and credentials files, SSO, the instance
// role of an EC2 bastion) narrowed by a profile and a region, and an
// endpoint override for VPC endpoints and tests.
type Access struct {
	Profile  string `yaml:"profile"`
	Region   string `yaml:"region"`
	Endpoint string `yaml:"endpoint"`
}

// sdkAttempts is the SDK retryer's attempt count: 1, no retries. The opsview
// scheduler already retries a failing source on its next poll, and SDK
// retries with back-off sleeps would outlast the poll timeout and multiply
// calls (and CloudWatch cost) during throttling.
const sdkAttempts = 1

func (a Access) check(kind, name string, errorf func(string, ...any) error) error {
	if a.Endpoint != "" {
		if err := checkURL(a.Endpoint); err != nil {
			return errorf("%s %q: endpoint: %v", kind, name, err)
		}
	}
	if a.Region != "" && !keyPartRE().MatchString(a.Region) {
		return errorf("%s %q: region %q: use an AWS region name such as eu-west-1", kind, name, a.Region)
	}
	return nil
}

// load reads the AWS configuration (files, environment) with the SDK; it
// does no network I/O. defaultRegion applies when neither the config nor
// the environment names one.
func (a Access) load(ctx context.Context, region string) (sdkaws.Config, error) {
	opts := []func(*config.LoadOptions) error{config.WithRetryMaxAttempts(sdkAttempts)}
	if a.Profile != "" {
		opts = append(opts, config.WithSharedConfigProfile(a.Profile))
	}
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return cfg, fmt.Errorf("load the AWS configuration%s: %w (check ~/.aws/config and AWS_PROFILE)", a.profileText(), err)
	}
	if cfg.Region == "" {
		return cfg, fmt.Errorf("no AWS region%s: set region: in the source, AWS_REGION, or region in ~/.aws/config", a.profileText())
	}
	return cfg, nil
}

func (a Access) profileText() string {
	if a.Profile == "" {
		return ""
	}
	return fmt.Sprintf(" (profile %q)", a.Profile)
}

// ErrNoCredentials marks a source that found no AWS credentials.
var ErrNoCredentials = errors.New("no AWS credentials")

// credentials checks that the chain yields credentials before any call, so
// the error says what to do instead of a signing failure. The SDK caches
// what it retrieves, so this costs nothing on later polls.
func (a Access) credentials(ctx context.Context, cfg sdkaws.Config) error {
	if cfg.Credentials == nil {
		return fmt.Errorf("%w%s: %s", ErrNoCredentials, a.profileText(), a.credentialHint())
	}
	creds, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w%s: %s (%v)", ErrNoCredentials, a.profileText(), a.credentialHint(), err)
	}
	if creds.AccessKeyID == "" {
		return fmt.Errorf("%w%s: %s", ErrNoCredentials, a.profileText(), a.credentialHint())
	}
	if creds.CanExpire && !creds.Expires.IsZero() && time.Until(creds.Expires) < 0 {
		return fmt.Errorf("AWS credentials%s expired at %s: %s", a.profileText(), creds.Expires.UTC().Format(time.RFC3339), a.refreshHint())
	}
	return nil
}

func (a Access) credentialHint() string {
	p := "<profile>"
	if a.Profile != "" {
		p = a.Profile
	}
	return fmt.Sprintf("set AWS_PROFILE (or profile: in the source), run `aws sso login --profile %s`, or attach an instance role to this bastion", p)
}

func (a Access) refreshHint() string {
	p := "<profile>"
	if a.Profile != "" {
		p = a.Profile
	}
	return fmt.Sprintf("run `aws sso login --profile %s` or refresh the session credentials", p)
}

// apiCode is the AWS error code of err, "" when it is not an API error.
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func isThrottle(code string) bool {
	switch code {
	case "Throttling", "ThrottlingException", "ThrottledException", "RequestThrottled", "RequestThrottledException",
		"TooManyRequestsException", "RequestLimitExceeded", "SlowDown", "RequestLimitExceededException":
		return true
	}
	return false
}

// explain wraps an AWS API error with what it means and what to do.
// permission names the IAM action the call needs.
func (a Access) explain(err error, call, permission string) error {
	code := apiCode(err)
	msg := ""
	var ae smithy.APIError
	if errors.As(err, &ae) {
		msg = ae.ErrorMessage()
	}
	switch code {
	case "ExpiredToken", "ExpiredTokenException", "RequestExpired", "TokenRefreshRequired":
		return fmt.Errorf("%s: AWS credentials%s expired (%s): %s", call, a.profileText(), code, a.refreshHint())
	case "InvalidClientTokenId", "UnrecognizedClientException", "InvalidSignatureException", "SignatureDoesNotMatch",
		"AuthFailure", "IncompleteSignature", "MissingAuthenticationToken":
		return fmt.Errorf("%s: AWS rejected the credentials%s (%s: %s): check the access key, or %s", call, a.profileText(), code, msg, a.credentialHint())
	case "AccessDenied", "AccessDeniedException", "UnauthorizedOperation":
		return fmt.Errorf("%s: not allowed (%s: %s): give the role or user %s", call, code, msg, permission)
	}
	if code != "" {
		return fmt.Errorf("%s: %s: %s", call, code, msg)
	}
	if m := err.Error(); strings.Contains(m, "failed to refresh cached credentials") || strings.Contains(m, "failed to retrieve credentials") ||
		strings.Contains(m, "get identity") {
		return fmt.Errorf("%s: the AWS credentials%s could not be refreshed: %s (%w)", call, a.profileText(), a.refreshHint(), err)
	}
	if errors.Is(err, ErrTooLarge) || strings.Contains(err.Error(), ErrTooLarge.Error()) {
		return fmt.Errorf("%s: %w (ask for fewer metrics or a shorter window; if it persists the endpoint is not AWS)", call, err)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return fmt.Errorf("%s: %w (the poll's timeout ended it; raise timeout: for this source)", call, err)
	}
	return fmt.Errorf("%s: %w (check the network path to AWS, a proxy in HTTPS_PROXY, or endpoint:)", call, err)
}

// Bounds on what the SDK may read from one AWS answer. A full
// GetMetricData page (100,800 points) is about 2 MB in CBOR; Health pages
// hold at most 100 events.
const (
	maxCloudWatchResponse = 32 << 20
	maxHealthResponse     = 8 << 20
)
