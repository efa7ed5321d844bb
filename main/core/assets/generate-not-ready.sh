#!/bin/sh
# Regenerates not-ready.wav, the "the assistant isn't ready yet" clip a call hears when a plugin it needs
# (STT, LLM or TTS) cannot start — a model missing, a plugin that failed to load — instead of dead air
# (main/core/calls/not-ready.ts). It is bundled, not made at run time: the TTS may be the plugin that is broken,
# and the app must not depend on espeak-ng being installed.
#   espeak-ng: the words, a plain US English voice at 165 words a minute;
#   sox: 8 kHz mono G.711 μ-law WAV — Twilio's own media format, so it is sent as is — band-limited to the
#        telephone band, normalised to -3 dBFS, espeak-ng's leading and trailing silence cut to 150 ms.
# Needs espeak-ng and sox. Run from anywhere: sh main/core/assets/generate-not-ready.sh
set -eu
here=$(cd "$(dirname "$0")" && pwd)
text="Sorry, the assistant isn't ready yet. Please try again in a few minutes."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
espeak-ng -v en-us -s 165 -w "$tmp/speech.wav" "$text"
sox "$tmp/speech.wav" -r 8000 -c 1 -e mu-law -b 8 "$here/not-ready.wav" \
  silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse \
  highpass 300 lowpass 3400 norm -3 pad 0.15 0.15
soxi "$here/not-ready.wav"
