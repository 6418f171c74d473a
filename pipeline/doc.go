// Package pipeline is the library entry point of vision: it walks inputs,
// probes and validates them, plans and estimates tokens and cost, prepares
// media (resize, frames), submits requests and records every result.
//
// It is the only package that knows every stage. It never prints and never
// exits: callers get values, events through hooks, and errors.
package pipeline
