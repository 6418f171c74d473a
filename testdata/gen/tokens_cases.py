#!/usr/bin/env python3
"""Writes testdata/tokens/cases.jsonl: reference cases for package tokens.

An independent oracle in Python, so the Go code is checked against Python's
own float arithmetic and round() (half to even), following the qwen-vl-utils
algorithm as described in shared/reference/qwen-vl-math.md §1 and §3.
Deterministic: re-running gives the same file.

    python3 testdata/gen/tokens_cases.py > testdata/tokens/cases.jsonl
"""
import json
import math
import random


def smart_resize(h, w, f, lo, hi):
    if hi < lo:
        return {"error": "bounds"}
    if max(h, w) / min(h, w) > 200:
        return {"error": "ratio"}
    hb = max(f, round(h / f) * f)
    wb = max(f, round(w / f) * f)
    if hb * wb > hi:
        beta = math.sqrt((h * w) / hi)
        hb = math.floor(h / beta / f) * f
        wb = math.floor(w / beta / f) * f
    elif hb * wb < lo:
        beta = math.sqrt(lo / (h * w))
        hb = math.ceil(h * beta / f) * f
        wb = math.ceil(w * beta / f) * f
    if hb == 0 or wb == 0:
        return {"error": "zero"}
    if max(hb, wb) / min(hb, wb) > 200:
        return {"error": "ratio_resized"}
    return {"h": hb, "w": wb}


def nframes(total, video_fps, fps=2.0, min_frames=4, max_frames=None, explicit=None):
    if explicit is not None:
        n = round(explicit / 2) * 2
    else:
        minf = math.ceil(min_frames / 2) * 2
        maxf = math.floor((max_frames if max_frames is not None else min(768, total)) / 2) * 2
        n = total / video_fps * fps
        n = min(min(max(n, minf), maxf), total)
        n = math.floor(n / 2) * 2
    if not (2 <= n <= total):
        return None
    return n


def video(h, w, f, total, video_fps, fps, explicit, vmin, vcap, total_px, user_max, max_frames):
    n = nframes(total, video_fps, fps=fps, max_frames=max_frames, explicit=explicit)
    if n is None:
        return {"error": "nframes"}
    max_px = max(min(vcap, total_px / n * 2), int(vmin * 1.05))
    if user_max is not None:
        max_px = min(user_max, max_px)
    r = smart_resize(h, w, f, vmin, max_px)
    if "error" in r:
        return r
    r["frames"] = n
    r["tokens"] = n // 2 * (r["h"] // f) * (r["w"] // f)
    r["sample_fps"] = n / max(total, 1e-6) * video_fps
    return r


def main():
    rng = random.Random(20261122)
    out = []
    # Images: custom factor (library defaults) and explicit bounds.
    sides = [1, 4, 10, 11, 14, 16, 28, 32, 42, 48, 56, 70, 80, 126, 406, 720, 1000, 1024, 1080,
             1280, 1365, 1920, 2048, 2200, 2201, 3024, 4032, 7680, 20000]
    for f in (28, 32):
        for h in sides:
            for w in sides:
                lo, hi = 4 * f * f, 16384 * f * f
                out.append({"kind": "image", "h": h, "w": w, "factor": f, "min": lo, "max": hi,
                            "want": smart_resize(h, w, f, lo, hi)})
    for _ in range(2500):
        f = rng.choice((28, 32))
        k = rng.random()
        if k < 0.3:  # ties: side mod f == f/2
            h = rng.randint(0, 200) * f + f // 2
            w = rng.randint(1, 4000)
        else:
            h = rng.randint(1, 8000)
            w = rng.randint(1, 8000) if rng.random() < 0.9 else rng.randint(1, 30)
        lo = rng.choice([4, 16, 64, 128, 256]) * f * f
        hi = rng.choice([4, 64, 256, 640, 1280, 2560, 16384]) * f * f
        if hi < lo:
            lo, hi = hi, lo
        out.append({"kind": "image", "h": h, "w": w, "factor": f, "min": lo, "max": hi,
                    "want": smart_resize(h, w, f, lo, hi)})
    # Videos: custom factor, library constants.
    for _ in range(1200):
        f = rng.choice((28, 32))
        h, w = rng.choice([(1080, 1920), (720, 1280), (480, 640), (1920, 1080), (360, 640), (2160, 3840)])
        if rng.random() < 0.3:
            h, w = rng.randint(16, 4000), rng.randint(16, 4000)
        video_fps = rng.choice([23.976, 24, 25, 29.97, 30, 50, 60, 12.5])
        total = rng.randint(1, 120000) if rng.random() < 0.5 else rng.randint(1, 600)
        fps = rng.choice([0.1, 0.5, 1, 2, 2.5, 5, 10])
        explicit = rng.randint(1, 64) if rng.random() < 0.15 else None
        user_max = rng.choice([None, None, 100352, 230400, 655360])
        vmin = 128 * f * f
        vcap = 768 * f * f
        total_px = 128000 * f * f * 0.9
        case = {"kind": "video", "h": h, "w": w, "factor": f, "total_frames": total, "video_fps": video_fps,
                "want": video(h, w, f, total, video_fps, fps, explicit, vmin, vcap, total_px, user_max, None)}
        if explicit is not None:
            case["nframes"] = explicit
        else:
            case["fps"] = fps
        if user_max is not None:
            case["max_pixels"] = user_max
        out.append(case)
    for c in out:
        print(json.dumps(c, sort_keys=True))


main()
