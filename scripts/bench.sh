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
command -v convert-im6.q16 >/dev/null 2>&1 || command -v magick >/dev/null 2>&1 || need convert-im6.q16 imagemagick

section() { printf '\n== %s\n' "$*"; }
# timed LABEL N CMD...: wall time of CMD over N items.
timed() {
  local label=$1 n=$2; shift 2
  local t0 t1; t0=$(date +%s%N); "$@"; t1=$(date +%s%N)
  awk -v l="$label" -v n="$n" -v ns="$((t1 - t0))" 'BEGIN { printf "%-16s %d items: %.3fs (%.0f ms/item wall)\n", l, n, ns/1e9, ns/1e6/n }'
}

section "tokens: smart_resize and frame planning"
go test ./tokens -run '^$' -bench . -benchmem

section "media: probe (headers only) vs a bare image.DecodeConfig loop (goal: within 1.5x); 12 MP JPEG prepare"
go test ./media -run '^$' -bench 'Probe|DecodeConfig|Prepare' -benchmem -benchtime 2s | tee "$tmp/media.txt"
# ratio BENCH BASELINE: Probe's ns/file over the bare loop's, against the goal.
ratio() {
  awk -v a="$1" -v b="$2" '
    $1 ~ "^Benchmark" a "-" { for (i = 2; i < NF; i++) if ($(i+1) == "ns/file") x = $i }
    $1 ~ "^Benchmark" b "-" { for (i = 2; i < NF; i++) if ($(i+1) == "ns/file") y = $i }
    END { if (x && y) printf "%-28s %.2fx the bare DecodeConfig loop (goal <= 1.5x): %s\n", a, x / y, (x / y <= 1.5 ? "PASS" : "MISS") }' "$tmp/media.txt"
}
ratio ProbeImages DecodeConfigBaseline
ratio ProbePhoneJPEGs DecodeConfigPhoneJPEGs

section "12 MP JPEGs, both cores busy: vision resize vs vipsthumbnail vs ImageMagick (same upright sizes)"
go build -o "$tmp/benchimages" ./scripts/benchimages
mkdir -p "$tmp/in" "$tmp/vips" "$tmp/im"
for i in 1 2 3 4 5 6 7 8; do
  ffmpeg -v error -f lavfi -i "testsrc2=size=4000x3000:rate=1,noise=alls=12:allf=t+u:all_seed=$i" -frames:v 1 -q:v 3 "$tmp/in/img$i.jpg"
done
# Half are portrait phone shots: stored 4000x3000, shown upright by Exif.
"$tmp/benchimages" exif 6 "$tmp/in/img2.jpg" "$tmp/in/img4.jpg" "$tmp/in/img6.jpg" "$tmp/in/img8.jpg"
# Every tool makes the size vision plans (qwen3-vl-plus: 1856x1376 or
# 1376x1856 upright), applying the orientation, at JPEG quality 90.
"$bin" estimate --json "$tmp/in" | "$tmp/benchimages" sizes >"$tmp/sizes"
im=$(command -v convert-im6.q16 || command -v magick || echo convert)
timed "vision resize" 8 sh -c "\"$bin\" resize --quiet \"$tmp/in\" -o \"$tmp/vision\" >/dev/null"
timed vipsthumbnail 8 sh -c "xargs -P 2 -L 1 sh -c 'vipsthumbnail \"\$0\" --size \"\$1!\" -o \"$tmp/vips/%s.jpg[Q=90]\"' <\"$tmp/sizes\""
timed ImageMagick 8 sh -c "xargs -P 2 -L 1 sh -c '$im \"\$0\" -auto-orient -resize \"\$1!\" -quality 90 \"$tmp/im/\$(basename \"\$0\")\"' <\"$tmp/sizes\""
# ImageMagick's Lanczos resize of the same pixels is the quality reference
# (vips' shrink-on-load trades fidelity for speed: printed for information).
echo "vision's outputs against ImageMagick's (same size, upright, PSNR >= 30 dB):"
"$tmp/benchimages" compare "$tmp/vision" "$tmp/im" || echo "bench: MISS: vision's output is not the planned size, upright and close to the reference"
echo "vision's and ImageMagick's against vipsthumbnail's, for information:"
"$tmp/benchimages" compare "$tmp/vision" "$tmp/vips" | tail -1 || true
"$tmp/benchimages" compare "$tmp/im" "$tmp/vips" | tail -1 || true

if [ -x scripts/bench-video.sh ]; then
  section "video: ffmpeg decode floor vs vision frames (dense, sparse, keyframes)"
  BIN=$bin scripts/bench-video.sh || echo "bench: a video run failed (see above)"
fi

section "dashscope: streamed request bodies (250 images) vs json.Marshal"
go test ./dashscope -run '^$' -bench . -benchmem

section "pipeline: overhead per request against an instant local stand-in"
go test ./pipeline -run '^$' -bench . -benchmem
