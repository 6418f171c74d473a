// Package pipeline is the library entry point of vision: it walks inputs,
// probes and validates them, plans and estimates tokens and cost, prepares
// media (resize, frames), submits requests and records every result.
//
// It is the only package that knows every stage. It never prints and never
// exits: callers get values, events through hooks, and errors.
//
// # Batch runs
//
// [Run] is `vision run`: expand → shard → hash, probe and plan everything
// (headers only) → [Plan] hook → cost gate and confirmation → dry run, or
// prepare on bounded workers and send with a fixed number of requests in
// flight, paced by a [Limiter] (requests and estimated tokens per minute,
// one shared pause on 429; see [PaceAttempts] for pacing the client's own
// retries). One goroutine appends every input's [Record] to the [Journal]
// (locked, fsynced; the last record per id wins, see [Latest]), keeps each
// answered PDF page in the page journal ([PagesPath]) and writes the
// preset's outputs atomically; Ctrl-C stops launching, waits a grace
// period, then records what is left. --resume skips items whose last
// record is ok with the same content hash and settings, sends only the
// pages of a PDF not kept, and writes outputs that failed from the answers
// stored in the journal.
//
// # One request
//
// [Ask] is `vision ask`: every input in one request, as base64 while the
// API's base64 limits allow, by temporary upload past them, refused with a
// [LimitError] past the by-URL limits. Prepared media waits in an unlinked
// temporary file while the body streams from it, so memory does not grow
// with the media. [UploadCache] (at [DefaultUploadCachePath]) remembers
// uploads across processes for a dashscope.Client.
package pipeline
