#!/bin/sh
# Times frame extraction against ffmpeg's decode floor on generated 1080p
# H.264 videos (never committed). Targets (issue 4): fps 2 within 1.15× of
# the floor; 64 sparse frames ≥ 2× faster than the floor with 250-frame GOPs
# and ≥ 5× with 1-second GOPs; keyframes ≥ 10× faster.
#
# Usage: scripts/bench-video.sh [SECONDS...]   (default: 120 600)
# BENCH_DIR keeps the generated videos between runs.
set -eu

durations=${*:-120 600}
dir=${BENCH_DIR:-$(mktemp -d)}
[ -n "${BENCH_DIR:-}" ] || trap 'rm -rf "$dir"' EXIT
go build -o "$dir/benchframes" ./scripts/benchframes

now() { date +%s%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", (b - a) / 1e9 }'; }
# timed LABEL CMD...: run CMD, print its wall time.
timed() {
	label=$1
	shift
	t0=$(now)
	"$@" >/dev/null
	printf '%-44s %8.2fs\n' "$label" "$(elapsed "$t0")"
}

for d in $durations; do
	for gop in 250 25; do
		v="$dir/bench_${d}s_g${gop}.mp4"
		if [ ! -s "$v" ]; then
			echo "generating $v ..." >&2
			ffmpeg -hide_banner -loglevel error -nostdin -y -f lavfi -i "testsrc2=s=1920x1080:r=25:d=$d" \
				-c:v libx264 -preset ultrafast -g "$gop" -pix_fmt yuv420p "$v"
		fi
		echo "== ${d}s 1080p25, GOP $gop ($(du -h "$v" | cut -f1))"
		timed "decode floor: ffmpeg -i X -f null -" ffmpeg -hide_banner -loglevel error -nostdin -i "$v" -f null -
		timed "fps 2, full plan (auto)" "$dir/benchframes" -mode auto -fps 2 "$v"
		timed "64 sparse frames (auto)" "$dir/benchframes" -mode auto -nframes 64 "$v"
		timed "64 sparse frames (seek)" "$dir/benchframes" -mode seek -nframes 64 "$v"
		timed "64 sparse frames (keyframes)" "$dir/benchframes" -mode keyframes -nframes 64 "$v"
		timed "fps 2 (keyframes)" "$dir/benchframes" -mode keyframes -fps 2 "$v"
	done
done
