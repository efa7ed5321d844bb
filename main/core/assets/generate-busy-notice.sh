#!/bin/sh
# Regenerates busy-notice.wav, the "all lines are busy" clip a call beyond PARLEY_MAX_CALLS hears
# (main/core/calls/busy-notice.ts) instead of the agent. It is bundled, not made at run time: the models are
# busy when it plays, and the app must not depend on espeak-ng being installed.
#   espeak-ng: the words, a plain US English voice at 165 words a minute;
#   sox: 8 kHz mono G.711 μ-law WAV — Twilio's own media format, so it is sent as is — band-limited to the
#        telephone band, normalised to -3 dBFS, espeak-ng's leading and trailing silence cut to 150 ms.
# Needs espeak-ng and sox. Run from anywhere: sh main/core/assets/generate-busy-notice.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
text="Sorry, all our lines are busy right now. Please call again later."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
espeak-ng -v en-us -s 165 -w "$tmp/speech.wav" "$text"
sox "$tmp/speech.wav" -r 8000 -c 1 -e mu-law -b 8 "$here/busy-notice.wav" \
  silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
  highpass 300 lowpass 3400 norm -3 pad 0.15 0.15
soxi "$here/busy-notice.wav"
