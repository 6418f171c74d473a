#!/bin/sh
# Regenerates the video fixtures in testdata/video from ffmpeg's lavfi
# sources, and records their ffprobe JSON in testdata/video/ffprobe.
#
# Every frame shows its own index: the top half is 10 vertical stripes, the
# bits of the frame index (least significant bit on the left, white = 1);
# the bottom half has a white block in its left quarter, so orientation can
# be checked. See testdata/video/README.md for what each file must probe as.
#
# Usage: testdata/gen/videos.sh  (from the repository root; needs ffmpeg with
# libx264, libvpx, libtheora, mpeg2video and aac, e.g. Debian's ffmpeg
# package)
set -eu

out=testdata/video
mkdir -p "$out/ffprobe"

ff() { ffmpeg -hide_banner -loglevel error -nostdin -y "$@"; }

# pattern is the filter drawing the index stripes and orientation block.
pattern="format=yuv420p,geq=lum='if(lt(Y,H/2),if(bitand(N,pow(2,floor(X*10/W))),235,16),if(lt(X,W/4),235,64))':cb=128:cr=128"
# src W H FPS SECONDS: the pattern as a lavfi input graph.
src() { echo "color=c=black:s=$1x$2:r=$3:d=$4,$pattern"; }

x264="-c:v libx264 -preset veryslow -crf 30 -g 25 -bf 2 -pix_fmt yuv420p"
exact="-fflags +bitexact -flags:v +bitexact -flags:a +bitexact -map_metadata -1"

# 4 s at 25 fps, 100 frames, keyframes every 25 frames, B-frames.
ff -f lavfi -i "$(src 160 90 25 4)" $x264 $exact "$out/cfr_h264.mp4"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Phone-style: frames stored 160x90 turned a quarter counter-clockwise, with
# a display matrix saying "turn 90° clockwise" (ffprobe: rotation -90):
# upright it is 90x160. ffmpeg 6+ sets the matrix with -display_rotation
# (counter-clockwise degrees); ffmpeg 5.1 maps a rotate tag of 270 to it.
ff -f lavfi -i "$(src 90 160 25 3),transpose=cclock" $x264 $exact "$tmp/stored.mp4"
if ffmpeg -hide_banner -h full 2>/dev/null | grep -q -- -display_rotation; then
	ff -display_rotation:v:0 -90 -i "$tmp/stored.mp4" -c copy $exact "$out/rotated_90.mp4"
else
	ff -i "$tmp/stored.mp4" -c copy $exact -metadata:s:v:0 rotate=270 "$out/rotated_90.mp4"
fi
rot=$(ffprobe -v error -select_streams v:0 -show_entries stream_side_data=rotation -of csv=p=0 "file:$out/rotated_90.mp4")
[ "$rot" = "-90" ] || { echo "rotated_90.mp4: rotation is '$rot', want -90" >&2; exit 1; }

# Variable frame rate: 10 frames at 10 fps, 30 at 30 fps, 15 at 15 fps
# (55 frames, 2.93 s + last frame); the stripes count the kept frames.
ff -f lavfi -i "color=c=black:s=160x90:r=30:d=3,select='if(lt(n,30),not(mod(n,3)),if(lt(n,60),1,not(mod(n,2))))',$pattern" \
	-fps_mode vfr $x264 $exact "$out/vfr.mp4"

# Other containers, 3 s at 25 fps.
ff -f lavfi -i "$(src 160 90 25 3)" $x264 $exact "$out/clip.mkv"
ff -f lavfi -i "$(src 160 90 25 3)" -c:v libvpx -b:v 100k -g 25 -deadline good $exact "$out/clip.webm"
ff -f lavfi -i "$(src 160 90 25 3)" -c:v mpeg4 -q:v 8 -g 25 $exact "$out/clip.avi"
ff -f lavfi -i "$(src 160 90 25 3)" -f lavfi -i "sine=frequency=440:sample_rate=22050:duration=3" \
	$x264 -c:a aac -b:a 24k -shortest $exact "$out/with_audio.mov"

# Audio only (no video stream).
ff -f lavfi -i "sine=frequency=440:sample_rate=22050:duration=3" -c:a aac -b:a 24k $exact "$out/audio_only.m4a"

# Below the 2 s minimum: 1 s, 25 frames.
ff -f lavfi -i "$(src 160 90 25 1)" $x264 $exact "$out/short_1s.mp4"

# Truncated: moov is written at the end, so the first half has none.
ff -f lavfi -i "$(src 160 90 25 4)" $x264 $exact "$tmp/full.mp4"
size=$(wc -c <"$tmp/full.mp4")
head -c $((size / 2)) "$tmp/full.mp4" >"$out/truncated.mp4"

# Containers whose frame count or timestamps need the packets.
# 8 s at 25 fps (200 frames) as the source of the cuts below.
ff -f lavfi -i "$(src 160 90 25 8)" $x264 $exact "$tmp/long8.mp4"
# Trimmed MP4: cut from 1.5 s by stream copy, so an edit list hides the 13
# packets before the cut (decoded only to build the frames after it):
# nb_frames 115, 102 frames shown; the first shows index 38 of long8.
ff -ss 1.5 -i "$tmp/long8.mp4" -c copy -t 4 $exact "$out/trimmed.mp4"
# MKV stores no frame count: 145 packets, duration 5.84 s, so the header
# estimate (5.84 × 25 = 146) names a frame that does not exist.
ff -i "$tmp/long8.mp4" -c copy -t 5.7 $exact "$out/cut.mkv"
# VFR in MKV: 55 frames, estimated 2.966 × 18.13 = 54.
ff -i "$out/vfr.mp4" -c copy $exact "$out/vfr.mkv"
# Matroska written to a pipe (as live and streaming muxers write it): the
# muxer cannot seek back to fill in Duration, so none is stored; the 100
# frames of cfr_h264.mp4 measure 4 s.
ff -i "$out/cfr_h264.mp4" -c copy $exact -f matroska - >"$out/live.mkv"
# MPEG-TS (start_time 1.48 s): ffmpeg's input seeking lands past the
# frame asked for.
ff -i "$tmp/long8.mp4" -c copy -t 4 -f mpegts $exact "$out/clip.ts"
# MPEG-PS, MPEG-2 with B-frames: most packets carry no pts.
ff -f lavfi -i "$(src 160 90 25 4)" -c:v mpeg2video -q:v 8 -g 25 -bf 2 $exact -f mpeg "$out/mpeg2.mpg"
# Anamorphic: stored 180x144 with pixel aspect 64:45, shown 256x144.
ff -f lavfi -i "$(src 180 144 25 2),setsar=64/45" $x264 $exact "$out/anamorphic.mp4"
# Ogg Theora: a container ffprobe reads that the API does not list.
ff -f lavfi -i "$(src 160 90 25 3)" -c:v libtheora -q:v 5 -g 25 $exact "$out/clip.ogv"
# Damaged: 400 bytes zeroed halfway through long8's mdat; the decoder
# drops the frames it cannot decode (about 23 from 5 s on).
cp "$tmp/long8.mp4" "$out/damaged.mp4"
size=$(wc -c <"$out/damaged.mp4")
dd if=/dev/zero of="$out/damaged.mp4" bs=1 seek=$((size / 2)) count=400 conv=notrunc status=none

# Not a video at all.
printf 'this is a text file, not a video\n' >"$out/not_video.mp4"

# Recorded ffprobe output, for the pure parser's tests.
for f in cfr_h264.mp4 rotated_90.mp4 vfr.mp4 clip.mkv clip.webm clip.avi with_audio.mov audio_only.m4a short_1s.mp4 \
	trimmed.mp4 cut.mkv vfr.mkv live.mkv clip.ts mpeg2.mpg anamorphic.mp4 clip.ogv; do
	ffprobe -v error -print_format json -show_format -show_streams "file:$out/$f" |
		sed "s|file:$out/|file:|" >"$out/ffprobe/${f%.*}.$(echo "$f" | sed 's/.*\.//').json"
done
