// Package functions is the stateless tier of kmlog: the query frontend,
// querier, compactor and ruler. Each is a plain Go value with a plain API
// (context first, request in, response out) and an http.Handler; thin
// adapters run the same values in-process, as Knative Services and as AWS
// Lambda functions. Each lives in a subpackage; this one holds nothing.
package functions
