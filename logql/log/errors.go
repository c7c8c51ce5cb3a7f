package log

import "errors"

// Names of the labels that carry a per-line error, as in Loki.
const (
	ErrorLabel        = "__error__"
	ErrorDetailsLabel = "__error_details__"
)

// Values of the __error__ label, as Loki spells them.
const (
	JSONParserErr       = "JSONParserErr"
	LogfmtParserErr     = "LogfmtParserErr"
	LabelFilterErr      = "LabelFilterErr"
	TemplateFormatErr   = "TemplateFormatErr"
	SampleExtractionErr = "SampleExtractionErr"
)

// Sentinel errors returned by stage constructors.
var (
	// ErrNoCapture: a regexp or pattern parser names no capture.
	ErrNoCapture = errors.New("at least one named capture must be supplied")
	// ErrInvalidPattern: a pattern expression is malformed.
	ErrInvalidPattern = errors.New("invalid pattern expression")
	// ErrInvalidIP: an ip() argument is neither an address, a CIDR nor a range.
	ErrInvalidIP = errors.New("invalid ip pattern")
	// ErrInvalidOperation: an operator the stage does not support.
	ErrInvalidOperation = errors.New("invalid operation")
	// ErrInvalidLabelName: an extracted label name is not [a-zA-Z_][a-zA-Z0-9_]*.
	ErrInvalidLabelName = errors.New("invalid label name")
	// ErrDuplicateLabel: a stage names the same label twice.
	ErrDuplicateLabel = errors.New("duplicate label name")
	// ErrInvalidExpression: a json or logfmt extraction expression is malformed.
	ErrInvalidExpression = errors.New("invalid extraction expression")
	// ErrInvalidTemplate: a line_format or label_format template does not parse.
	ErrInvalidTemplate = errors.New("invalid template")
)
