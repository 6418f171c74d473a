#!/usr/bin/env bash
# make bench: every stage's Go benchmarks, each beside the reference tool it
# is measured against, in the same run on the same machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${BIN:-bin/vision}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

need() { command -v "$1" >/dev/null 2>&1 || { echo "bench: installing $2"; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need vipsthumbnail libvips-tools
need ffmpeg ffmpeg
if ! convert -version 2>/dev/null | grep -q ImageMagick; then need convert imagemagick; fi

section() { printf '\n== %s\n' "$*"; }
# timed LABEL N CMD...: wall time of CMD over N items.
timed() {
  local label=$1 n=$2; shift 2
  local t0 t1; t0=$(date +%s%N); "$@"; t1=$(date +%s%N)
  awk -v l="$label" -v n="$n" -v ns="$((t1 - t0))" 'BEGIN { printf "%-16s %d items: %.3fs (%.0f ms/item wall)\n", l, n, ns/1e9, ns/1e6/n }'
}

section "tokens: smart_resize and frame planning"
go test ./tokens -run '^$' -bench . -benchmem

section "media: probe (headers only) vs a bare image.DecodeConfig loop; 12 MP JPEG prepare"
go test ./media -run '^$' -bench 'Probe|DecodeConfig|Prepare' -benchmem -benchtime 2s

section "12 MP JPEGs, both cores busy (one image per core): vision resize vs vipsthumbnail vs ImageMagick"
mkdir -p "$tmp/in"
for i in 1 2 3 4; do
  ffmpeg -v error -f lavfi -i "testsrc2=size=4000x3000:rate=1,noise=alls=30:allf=t" -frames:v 1 -q:v 3 "$tmp/in/img$i.jpg"
done
# vision resize: qwen3-vl-plus default plan for 4000x3000 is 1856x1376.
timed "vision resize" 4 sh -c "\"$bin\" resize --quiet \"$tmp/in\" -o \"$tmp/vision\" >/dev/null"
timed vipsthumbnail 4 sh -c "ls $tmp/in/*.jpg | xargs -P 2 -I{} vipsthumbnail {} --size 1856x1376! -o '$tmp/%s_vips.jpg[Q=90]'"
timed ImageMagick 4 sh -c "ls $tmp/in/*.jpg | xargs -P 2 -I{} convert {} -resize 1856x1376! -quality 90 {}.im.jpg"

if [ -x scripts/bench-video.sh ]; then
  section "video: ffmpeg decode floor vs vision frames (dense, sparse, keyframes)"
  scripts/bench-video.sh
fi

section "dashscope: streamed request bodies (250 images) vs json.Marshal"
go test ./dashscope -run '^$' -bench . -benchmem

section "pipeline: overhead per request against an instant local stand-in"
go test ./pipeline -run '^$' -bench . -benchmem
