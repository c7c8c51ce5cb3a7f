package main

import (
	"context"
	"errors"
	"io"
)

// runLoad is `kmlog load`: it pushes generated logs at a running kmlog.
func runLoad(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("kmlog load: not implemented yet")
}
