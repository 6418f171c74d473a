#!/usr/bin/env bash
# The main job on bundled example data: no API key, no network.
set -euo pipefail
bin=${1:-bin/vision}
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$bin" models
step "$bin" tokens --model qwen-vl-max 2048x1365
step "$bin" tokens --model qwen3-vl-plus 1280x720 3024x4032 4032x3024
step "$bin" tokens --model qwen3-vl-plus --high-res 3024x4032
step "$bin" tokens --factor 28 70x70 1024x406
step "$bin" tokens --video --model qwen3-vl-plus --duration 600 --source-fps 30 --fps 2 1920x1080
