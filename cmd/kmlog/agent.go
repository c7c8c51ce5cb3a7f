package main

import (
	"context"
	"errors"
	"io"
)

// runAgent is `kmlog agent`: the node agent.
func runAgent(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return errors.New("kmlog agent: not implemented yet")
}
