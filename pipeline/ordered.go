package pipeline

import (
	"context"

	"golang.org/x/sync/errgroup"
)

// forEachOrdered runs work(i) for i in [0, n) on up to workers goroutines
// and calls emit with the results in index order, each as soon as it and all
// before it are done. It stops at the first error from emit or ctx.
func forEachOrdered[T any](ctx context.Context, n, workers int, work func(ctx context.Context, i int) T, emit func(T) error) error {
	g, ctx := errgroup.WithContext(ctx)
	slots := make([]chan T, n)
	for i := range slots {
		slots[i] = make(chan T, 1)
	}
	idx := make(chan int)
	g.Go(func() error {
		defer close(idx)
		for i := 0; i < n; i++ {
			select {
			case idx <- i:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	for w := 0; w < max(1, workers); w++ {
		g.Go(func() error {
			for i := range idx {
				slots[i] <- work(ctx, i)
			}
			return nil
		})
	}
	g.Go(func() error {
		for i := 0; i < n; i++ {
			select {
			case r := <-slots[i]:
				if err := emit(r); err != nil {
					return err
				}
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		return nil
	})
	return g.Wait()
}
