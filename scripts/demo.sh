#!/usr/bin/env bash
# The main job on bundled example data: no API key, no network.
# Exit 3 from estimate/check is expected: the fixtures include broken files on purpose.
set -euo pipefail
bin=${1:-bin/vision}
cd "$(dirname "$0")/.."
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
step() {
  printf '\n\033[1m$ %s\033[0m\n' "$*"
  local rc=0
  "$@" || rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then exit "$rc"; fi
}

step "$bin" models
step "$bin" tokens --model qwen-vl-max 2048x1365
step "$bin" tokens --model qwen3-vl-plus 1280x720 3024x4032 4032x3024
step "$bin" tokens --model qwen3-vl-plus --high-res 3024x4032
step "$bin" tokens --factor 28 70x70 1024x406
step "$bin" tokens --video --model qwen3-vl-plus --duration 600 --source-fps 30 --fps 2 1920x1080
step "$bin" estimate --prompt "Describe this image." --output-tokens 200 testdata/images testdata/video testdata/pdf
step "$bin" check testdata/images/ratio_201.png testdata/images/png_named.jpg testdata/video/vfr.mp4
step "$bin" resize testdata/images/orient6.jpg testdata/images/cmyk.jpg -o "$out/resized"
step "$bin" frames testdata/video/cfr_h264.mp4 -o "$out/frames" --contact-sheet
step "$bin" ask --dry-run testdata/images/orient6.jpg -p "What is in this picture?"

# The batch pipeline, planned and rendered without sending anything: every
# bundled image, video and PDF page becomes a request body in a temp folder.
# Exit 3 is expected: the bundled media include corrupt and over-limit files.
step "$bin" run testdata/images testdata/video testdata/pdf --preset ocr -o "$out/results.jsonl" --dry-run
printf '\nrequest bodies written by the dry run:\n'
ls "$out/results.jsonl.requests" | head -5
