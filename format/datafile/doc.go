// Package datafile is the Parquet data file of kmlog: its schema, Writer
// and Reader. The format specification follows in this comment.
package datafile
