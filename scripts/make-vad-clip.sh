#!/usr/bin/env bash
# Regenerates data/vad/clip.wav and data/vad/labels.json: a labelled speech
# clip for the silero-vad frame accuracy evaluation (eval/src/silero.rs).
#
# Short English sentences are synthesised with espeak-ng (several voices and
# speeds), resampled to 16 kHz with sox, trimmed of their own leading and
# trailing silence by an amplitude threshold, and laid end to end with
# silences of 0.5-2 s between them. Seeded Gaussian noise (about -56 dBFS)
# is added to the whole clip so the silences are not digital zero.
#
# Labels are known by construction: a sample is speech iff it lies inside a
# trimmed sentence. Internal pauses between words count as speech.
#
# Needs: espeak-ng, sox, python3 with numpy. The output is deterministic for
# a given espeak-ng/sox version (espeak-ng 1.51 and SoX 14.4.2 made the
# committed files); other versions may synthesise slightly different audio.
#
# Usage: scripts/make-vad-clip.sh [OUTPUT_DIR]   (default: data/vad)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$root/data/vad}"

for tool in espeak-ng sox python3; do
    command -v "$tool" >/dev/null || {
        echo "make-vad-clip.sh: '$tool' not found (apt-get install espeak-ng sox python3-numpy)" >&2
        exit 1
    }
done
python3 -c 'import numpy' 2>/dev/null || {
    echo "make-vad-clip.sh: python3 has no numpy (pip install numpy)" >&2
    exit 1
}

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# voice | words per minute | pitch (0-99) | text
sentences=(
    "en-us|175|50|The brown fox jumps high."
    "en-gb+f3|160|60|Please call Stella soon."
    "en-us+m3|190|40|Sparse weights save memory."
    "en-gb-scotland|165|45|Turn the radio down."
    "en-us+f2|180|55|Where are my keys?"
)

i=0
for s in "${sentences[@]}"; do
    IFS='|' read -r voice speed pitch text <<<"$s"
    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$tmp/s$i.wav" "$text"
    # 32-bit float raw output: no dither, no clipping, read directly by numpy.
    sox -v 0.5 "$tmp/s$i.wav" -t raw -e floating-point -b 32 -r 16000 -c 1 "$tmp/s$i.f32"
    i=$((i + 1))
done

mkdir -p "$out"
python3 - "$tmp" "$i" "$out" <<'EOF'
import json
import sys
import wave

import numpy as np

tmp, count, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SR = 16000
# Silence before each sentence, and after the last one (seconds).
GAPS = [0.60, 1.10, 0.50, 1.70, 0.80]
TAIL = 1.00
TRIM = 0.02  # amplitude threshold (peak-normalised) for a sentence's own silence
GAIN = 0.5   # each sentence is normalised to this peak
NOISE = 0.0015  # std of the additive Gaussian noise (relative to full scale)
assert len(GAPS) == count

parts, segments, pos = [], [], 0
for k in range(count):
    x = np.fromfile(f"{tmp}/s{k}.f32", dtype="<f4").astype(np.float64)
    x = x / np.abs(x).max()
    loud = np.flatnonzero(np.abs(x) > TRIM)
    x = x[loud[0] : loud[-1] + 1] * GAIN
    gap = int(round(GAPS[k] * SR))
    parts.append(np.zeros(gap))
    pos += gap
    segments.append([pos, pos + len(x)])
    parts.append(x)
    pos += len(x)
parts.append(np.zeros(int(round(TAIL * SR))))
audio = np.concatenate(parts)
audio += np.random.default_rng(20240611).normal(0.0, NOISE, len(audio))
pcm = np.clip(np.round(audio * 32767), -32768, 32767).astype("<i2")

with wave.open(f"{out}/clip.wav", "wb") as w:
    w.setnchannels(1)
    w.setsampwidth(2)
    w.setframerate(SR)
    w.writeframes(pcm.tobytes())

speech = sum(e - s for s, e in segments)
labels = {
    "sample_rate": SR,
    "samples": len(pcm),
    "rule": "a sample is speech iff start <= index < end for some segment",
    "segments": segments,
}
with open(f"{out}/labels.json", "w") as f:
    json.dump(labels, f, indent=1)
    f.write("\n")
print(
    f"{out}/clip.wav: {len(pcm)} samples ({len(pcm) / SR:.2f} s), "
    f"{count} sentences, speech fraction {speech / len(pcm):.3f}"
)
EOF
