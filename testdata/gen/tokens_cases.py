#!/usr/bin/env python3
"""Writes testdata/tokens/cases.jsonl: reference cases for package tokens.

An independent oracle in plain Python, so the Go code is checked against
Python's own float arithmetic and round() (half to even). The math follows
qwen-vl-utils (smart_resize, smart_nframes, calculate_video_frame_range and
fetch_video of qwen-vl-utils 0.0.14) as described in
shared/reference/qwen-vl-math.md §1 and §3; the DashScope family numbers are
those of qwen-vl-math.md §6 (seed 000 lines 1306-1402), typed in here again
rather than read from the Go registry. The option rules (what `vision` rejects
as a usage error) are the documented API ranges; see valid_video_options.

Kinds of line:
  image        smart_resize with explicit bounds
  image_model  an image on a registry model (or --factor), with the user's
               min_pixels / max_pixels / vl_high_resolution_images
  video        a video file on a registry model (or --factor) with any of
               fps, nframes, min_frames, max_frames, min_pixels, max_pixels,
               total_pixels, video_start, video_end

Deterministic: re-running gives the same file.

    python3 testdata/gen/tokens_cases.py > testdata/tokens/cases.jsonl
"""
import json
import math
import random

FRAME_FACTOR = 2
MAX_RATIO = 200
FPS_MIN, FPS_MAX = 0.1, 10.0  # seed 000 line 1285

# qwen-vl-math.md §6. f: factor; img_*: image min (default = minimum),
# default max, largest max, vl_high_resolution_images cap; vid_*: per-frame
# min default, smallest min, max default, largest max (also the budget cap);
# total: total_pixels default = minimum; max_frames: default = maximum.
FAMILIES = {
    "A": dict(f=32, img_min=65536, img_max_default=2621440, img_max=16777216, high_res=16777216,
              vid_min_default=65536, vid_min=4096, vid_max_default=655360, vid_max=2048000,
              total=134217728, max_frames=2000),
    "B": dict(f=32, img_min=65536, img_max_default=2621440, img_max=16777216, high_res=16777216,
              vid_min_default=65536, vid_min=4096, vid_max_default=655360, vid_max=786432,
              total=67108864, max_frames=512),
    "C": dict(f=32, img_min=4096, img_max_default=1310720, img_max=16777216, high_res=16777216,
              vid_min_default=65536, vid_min=4096, vid_max_default=655360, vid_max=786432,
              total=67108864, max_frames=512),
    "D": dict(f=28, img_min=3136, img_max_default=1003520, img_max=12845056, high_res=12845056,
              vid_min_default=50176, vid_min=3136, vid_max_default=501760, vid_max=602112,
              total=51380224, max_frames=512),
}
# Qwen2-VL: the 28-px numbers with the "other models" list limit of 80 frames
# (seed 001 line 2255; an assumption of the registry).
FAMILIES["D80"] = dict(FAMILIES["D"], max_frames=80)

MODELS = {
    "qwen3-vl-plus": "A", "qwen3-vl-flash-2025-10-15": "A", "qwen3.5-plus": "A", "qwen3.6-flash": "A",
    "qwen3.7-plus": "A", "qwen3-vl-235b-a22b-thinking": "A",
    "qwen3-vl-8b-instruct": "B", "qwen3-vl-30b-a3b-instruct": "B",
    "qwen-vl-max": "C", "qwen-vl-plus-0815": "C", "qwen-vl-max-latest": "C",
    "qwen2.5-vl-7b-instruct": "D", "qvq-max": "D", "qwen-vl-max-2025-04-08": "D", "qwen-vl-plus-2025-01-25": "D",
    "qwen2-vl-7b-instruct": "D80",
}


def custom(f):
    """--factor f: qwen-vl-utils' own defaults, no DashScope caps."""
    f2 = f * f
    return dict(f=f, custom=True, img_min=4 * f2, img_max_default=16384 * f2, img_max=None,
                high_res=16384 * f2, vid_min_default=128 * f2, vid_min=None, vid_max_default=None,
                vid_max=768 * f2, total=128000 * f2 * 0.9, max_frames=768)


class Fail(Exception):
    """A case the tool must refuse; args[0] is the kind of refusal."""


def smart_resize(h, w, f, lo, hi):
    if hi < lo:
        raise Fail("bounds")
    if max(h, w) / min(h, w) > MAX_RATIO:
        raise Fail("ratio")
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
        raise Fail("zero")
    if max(hb, wb) / min(hb, wb) > MAX_RATIO:
        raise Fail("ratio_resized")
    return hb, wb


def resize_case(h, w, f, lo, hi):
    try:
        rh, rw = smart_resize(h, w, f, lo, hi)
    except Fail as e:
        return {"error": e.args[0]}
    return {"h": rh, "w": rw}


def image_model(h, w, spec, min_pixels=None, max_pixels=None, high_res=False):
    """An image on a model: the registry's bounds and the user's settings."""
    c = spec.get("custom", False)
    if min_pixels is not None and not c and min_pixels < spec["img_min"]:
        raise Fail("option")
    lo = spec["img_min"] if min_pixels is None else min_pixels
    if high_res:
        hi = spec["high_res"]  # max_pixels is ignored (seed 000 line 1633)
    else:
        if max_pixels is not None and not c and max_pixels > spec["img_max"]:
            raise Fail("option")
        hi = spec["img_max_default"] if max_pixels is None else max_pixels
    if lo > hi:
        raise Fail("option")
    rh, rw = smart_resize(h, w, spec["f"], lo, hi)
    t = (rh // spec["f"]) * (rw // spec["f"])
    return {"h": rh, "w": rw, "tokens": t, "input_tokens": t + 2}


def round_even(n):
    return round(n / FRAME_FACTOR) * FRAME_FACTOR


def valid_video_options(spec, o):
    """The documented ranges `vision` enforces before any sampling."""
    c = spec.get("custom", False)
    if "fps" in o and not (FPS_MIN <= o["fps"] <= FPS_MAX):
        raise Fail("option")
    if "nframes" in o and not c and round_even(o["nframes"]) > spec["max_frames"]:
        raise Fail("option")
    if "max_frames" in o and not c and o["max_frames"] > spec["max_frames"]:
        raise Fail("option")
    if "min_frames" in o and "max_frames" in o and o["min_frames"] > o["max_frames"]:
        raise Fail("option")
    # Only min_frames: on a DashScope model the default max_frames is also
    # the maximum, so min_frames above it is refused; --factor deployments
    # keep qwen-vl-utils, where max_frames = min(768, total) simply wins.
    if "min_frames" in o and "max_frames" not in o and not c and o["min_frames"] > spec["max_frames"]:
        raise Fail("option")
    if "min_pixels" in o and not c and o["min_pixels"] < spec["vid_min"]:
        raise Fail("option")
    if "max_pixels" in o and not c and o["max_pixels"] > spec["vid_max"]:
        raise Fail("option")
    lo = o.get("min_pixels", spec["vid_min_default"])
    hi = o.get("max_pixels", spec["vid_max_default"])
    if hi is not None and lo > hi:
        raise Fail("option")
    if "total_pixels" in o and not c and o["total_pixels"] < spec["total"]:
        raise Fail("option")


def frame_range(total, video_fps, start, end):
    """qwen-vl-utils calculate_video_frame_range."""
    if start is None and end is None:
        return 0, total - 1, total
    max_duration = total / video_fps
    first = math.ceil(max(0.0, min(start, max_duration)) * video_fps) if start is not None else 0
    if end is not None:
        last = min(math.floor(max(0.0, min(end, max_duration)) * video_fps), total - 1)
    else:
        last = total - 1
    if first >= last:
        raise Fail("range")
    return first, last, last - first + 1


def smart_nframes(spec, o, total, video_fps):
    """qwen-vl-utils smart_nframes; DashScope models default max_frames to
    the model's, --factor deployments to min(768, total_frames)."""
    if "nframes" in o:
        n = round_even(o["nframes"])
    else:
        fps = o.get("fps", 2.0)
        min_frames = math.ceil(o.get("min_frames", 4) / FRAME_FACTOR) * FRAME_FACTOR
        if "max_frames" in o:
            mf = o["max_frames"]
        elif spec.get("custom"):
            mf = min(spec["max_frames"], total)
        else:
            mf = spec["max_frames"]
        max_frames = math.floor(mf / FRAME_FACTOR) * FRAME_FACTOR
        n = total / video_fps * fps
        n = min(min(max(n, min_frames), max_frames), total)
        n = math.floor(n / FRAME_FACTOR) * FRAME_FACTOR
    if not (FRAME_FACTOR <= n <= total):
        raise Fail("nframes")
    return n


def check_sample_fps(spec, o, n, sample_fps):
    """DashScope models: a count forced by nframes (or by min_frames on a
    short clip) must sample within the API's fps range, as the frames are sent
    as a list with that fps."""
    if spec.get("custom"):
        return
    slack = 1e-9
    if FPS_MIN * (1 - slack) <= sample_fps <= FPS_MAX * (1 + slack):
        return
    if "nframes" in o:
        raise Fail("option")
    if "min_frames" in o and sample_fps > FPS_MAX and n == math.ceil(o["min_frames"] / FRAME_FACTOR) * FRAME_FACTOR:
        raise Fail("option")


def video(h, w, spec, total, video_fps, o):
    """qwen-vl-utils fetch_video for a video file, with the family defaults."""
    valid_video_options(spec, o)
    first, last, count = frame_range(total, video_fps, o.get("start"), o.get("end"))
    n = smart_nframes(spec, o, count, video_fps)
    sample_fps = n / max(count, 1e-6) * video_fps
    check_sample_fps(spec, o, n, sample_fps)
    min_px = o.get("min_pixels", spec["vid_min_default"])
    total_px = o.get("total_pixels", spec["total"])
    max_px = max(min(spec["vid_max"], total_px / n * FRAME_FACTOR), int(min_px * 1.05))
    supposed = o.get("max_pixels", spec["vid_max_default"])
    if supposed is not None:
        max_px = min(supposed, max_px)
    rh, rw = smart_resize(h, w, spec["f"], min_px, max_px)
    t = n // 2 * (rh // spec["f"]) * (rw // spec["f"])
    return {"h": rh, "w": rw, "frames": n, "tokens": t, "input_tokens": t + 2, "sample_fps": sample_fps,
            "start_frame": first, "end_frame": last, "min_pixels": min_px, "max_pixels": max_px}


def pick_spec(rng):
    if rng.random() < 0.4:
        f = rng.choice((28, 32))
        return None, f, custom(f)
    model = rng.choice(sorted(MODELS))
    spec = FAMILIES[MODELS[model]]
    return model, spec["f"], spec


def image_model_cases(rng, n):
    out = []
    for _ in range(n):
        model, f, spec = pick_spec(rng)
        r = rng.random()
        if r < 0.3:
            h, w = rng.randint(1, 8000), rng.randint(1, 8000)
        elif r < 0.6:
            h, w = rng.randint(0, 200) * f + f // 2, rng.randint(1, 5000)
        else:
            h, w = rng.choice([(720, 1280), (1365, 2048), (406, 1024), (70, 70), (3024, 4032), (11, 2200),
                               (11, 2201), (4320, 7680), (1080, 1920), (16, 16), (42, 126)])
        kw = {}
        r = rng.random()
        if r < 0.2:
            kw["high_res"] = True
            if rng.random() < 0.3:
                kw["max_pixels"] = rng.randint(spec["img_min"], 4 * spec["img_max_default"])
        elif r < 0.7:
            if rng.random() < 0.6:
                kw["min_pixels"] = rng.choice([spec["img_min"], rng.randint(spec["img_min"], 2 * spec["img_max_default"]),
                                               rng.randint(1, spec["img_min"] * 2)])
            if rng.random() < 0.6:
                hi = spec["img_max"] or 16384 * f * f
                kw["max_pixels"] = rng.choice([hi, rng.randint(spec["img_min"], hi), rng.randint(1, 2 * hi)])
        case = {"kind": "image_model", "h": h, "w": w, "factor": f}
        if model:
            case["model"] = model
        case.update(kw)
        try:
            case["want"] = image_model(h, w, spec, **kw)
        except Fail as e:
            case["want"] = {"error": e.args[0]}
        out.append(case)
    return out


def video_options(rng, spec, f, total, video_fps):
    """Random options, mostly valid; about one in eight values is picked
    outside the documented ranges or against a default (odd)."""
    o = {}
    c = spec.get("custom", False)
    seconds = total / video_fps

    def odd():
        return rng.random() < 0.12

    if rng.random() < 0.22:
        if rng.random() < 0.5:
            o["nframes"] = rng.randint(1, 80)
        else:  # a count near the fps range or max_frames
            lo = max(1, int(seconds * 0.1) - 4)
            hi = max(lo, min(int(seconds * 10), spec["max_frames"], total) + 4)
            o["nframes"] = rng.randint(lo, hi)
    else:
        if rng.random() < 0.6:
            o["fps"] = rng.choice([0.05, 10.5]) if odd() else rng.choice(
                [0.1, 0.5, 1, 2, 2.5, 3, 5, 10, round(rng.uniform(0.1, 10), 3)])
        if rng.random() < 0.3:
            top = spec["max_frames"] + (50 if not c else 2000) if odd() else spec["max_frames"]
            o["max_frames"] = rng.randint(1, top)
        if rng.random() < 0.25:
            o["min_frames"] = rng.randint(1, 60)
    if rng.random() < 0.3:
        lo = spec["vid_min"] or 1
        if odd():
            o["min_pixels"] = rng.choice([rng.randint(max(1, lo // 2), lo + 10), rng.randint(500000, 800000)])
        else:
            o["min_pixels"] = rng.choice([rng.randint(lo, 300000), spec["vid_min_default"], rng.randint(lo, 120000)])
    if rng.random() < 0.3:
        hi = spec["vid_max"] if not c else 5000000
        if odd():
            o["max_pixels"] = rng.choice([hi + 1, rng.randint(20000, 70000)])
        else:
            o["max_pixels"] = rng.choice([rng.randint(100000, hi), hi, spec["vid_max_default"] or rng.randint(100000, hi)])
    if rng.random() < 0.25:
        base = spec["total"]
        if odd():
            o["total_pixels"] = rng.randint(10000, int(base))
        else:
            o["total_pixels"] = rng.choice([base, rng.randint(int(base), int(base) * 4), int(base) + 0.5, 123456789.5])
    if rng.random() < 0.25:
        r = rng.random()
        if r < 0.4:
            o["start"] = round(rng.uniform(0, seconds * 1.1), 3)
        elif r < 0.7:
            o["end"] = round(rng.uniform(0, seconds * 1.1), 3)
        else:
            a, b = sorted((round(rng.uniform(0, seconds * 1.1), 3), round(rng.uniform(0, seconds * 1.1), 3)))
            o["start"], o["end"] = a, b
    return o


def video_cases(rng, n):
    out = []
    for _ in range(n):
        model, f, spec = pick_spec(rng)
        h, w = rng.choice([(1080, 1920), (720, 1280), (480, 640), (1920, 1080), (360, 640), (2160, 3840), (4320, 7680)])
        r = rng.random()
        if r < 0.25:
            h, w = rng.randint(16, 4000), rng.randint(16, 4000)
        elif r < 0.4:
            h, w = rng.randint(0, 120) * f + f // 2, rng.randint(16, 3000)
        video_fps = rng.choice([23.976, 24, 25, 29.97, 30, 50, 60, 12.5, 1, 120])
        r = rng.random()
        if r < 0.4:
            total = rng.randint(1, 600)
        elif r < 0.8:
            total = rng.randint(600, 40000)
        else:
            total = rng.randint(40000, 250000)
        o = video_options(rng, spec, f, total, video_fps)
        case = {"kind": "video", "h": h, "w": w, "factor": f, "total_frames": total, "video_fps": video_fps}
        if model:
            case["model"] = model
        case.update(o)
        try:
            case["want"] = video(h, w, spec, total, video_fps, o)
        except Fail as e:
            case["want"] = {"error": e.args[0]}
        out.append(case)
    return out


def edge_video_cases():
    """Fixed cases for rules the random ones rarely reach: min_frames alone
    against the default max_frames (refused on DashScope models, where the
    default is also the maximum; qwen-vl-utils' min(768, total) wins for
    --factor), and nframes rounding half to even near the fps range."""
    edges = [
        ("qwen3-vl-plus", 100000, 30, {"min_frames": 3000}),
        ("qwen3-vl-plus", 100000, 30, {"min_frames": 2001}),
        ("qwen3-vl-plus", 100000, 30, {"min_frames": 2000}),
        ("qwen3-vl-plus", 100000, 30, {"min_frames": 3000, "max_frames": 2000}),
        ("qwen-vl-max", 100000, 30, {"min_frames": 600}),
        ("qwen2.5-vl-7b-instruct", 100000, 25, {"min_frames": 513}),
        ("qwen2-vl-7b-instruct", 100000, 25, {"min_frames": 100}),
        (28, 100000, 30, {"min_frames": 1000}),
        (32, 50, 30, {"min_frames": 100}),
        ("qwen3-vl-plus", 1500, 30, {"nframes": 5}),
        ("qwen3-vl-plus", 1500, 30, {"nframes": 6}),
        ("qwen3-vl-plus", 1500, 30, {"nframes": 501}),
        ("qwen3-vl-plus", 1500, 30, {"nframes": 503}),
        ("qwen3-vl-plus", 60, 30, {"nframes": 1}),
        ("qwen3-vl-plus", 60, 30, {"nframes": 21}),
        ("qwen3-vl-plus", 60, 30, {"nframes": 23}),
    ]
    out = []
    for who, total, video_fps, o in edges:
        if isinstance(who, int):
            model, f, spec = None, who, custom(who)
        else:
            model, spec = who, FAMILIES[MODELS[who]]
            f = spec["f"]
        case = {"kind": "video", "h": 480, "w": 640, "factor": f, "total_frames": total, "video_fps": video_fps}
        if model:
            case["model"] = model
        case.update(o)
        try:
            case["want"] = video(480, 640, spec, total, video_fps, o)
        except Fail as e:
            case["want"] = {"error": e.args[0]}
        out.append(case)
    return out


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
                            "want": resize_case(h, w, f, lo, hi)})
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
        if rng.random() < 0.05:
            lo, hi = hi + 1, hi  # min above max
        out.append({"kind": "image", "h": h, "w": w, "factor": f, "min": lo, "max": hi,
                    "want": resize_case(h, w, f, lo, hi)})
    out += image_model_cases(rng, 2000)
    out += video_cases(rng, 7000)
    out += edge_video_cases()
    for c in out:
        print(json.dumps(c, sort_keys=True))


main()
