// Package media reads local image and video files: it probes them from their
// headers, validates them against a model's limits from package tokens,
// decodes them upright, resizes and encodes them, and extracts video frames
// with ffmpeg.
//
// It does not talk to the network, know the DashScope API, or print anything;
// problems are returned as values ([Problem]) for the caller to render.
package media
