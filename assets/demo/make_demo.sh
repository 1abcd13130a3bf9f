#!/usr/bin/env bash
# Builds the bundled demo library: one 30 s excerpt per row of demo.tsv, cut from the training corpus,
# faded in/out, level-adjusted, encoded (Ogg Vorbis, Ogg Opus, MP3, AAC/M4A or FLAC, by the output's
# extension) and tagged, into assets/demo/<source>/<source>-<nn>-<short-title>.<ext>.
#
# Usage: assets/demo/make_demo.sh SRC_CORPUS_DIR
#   SRC_CORPUS_DIR  the corpus built by shared/corpus/setup_corpus.sh (demo.tsv's `src` paths are relative
#                   to it). It is only read.
#
# Idempotent and deterministic: every excerpt is re-encoded into a temporary file and only replaces the
# committed one when the bytes differ (ffmpeg runs with +bitexact, so a re-run with the same ffmpeg build
# changes nothing). Audio files under the album folders that demo.tsv does not list are deleted.
# Needs ffmpeg/ffprobe with libvorbis, libopus, libmp3lame, aac and flac (Debian 12: ffmpeg 5.1).
set -euo pipefail
export LC_ALL=C

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
TSV="$HERE/demo.tsv"

FADE_IN_S=1.5         # fade-in at the excerpt start
FADE_OUT_S=3.0        # fade-out at the excerpt end
TARGET_LUFS=-16       # integrated loudness every excerpt is brought to (gain only, no compression) ...
MAX_TRUE_PEAK_DBTP=-1.5   # ... unless that would push the true peak above this
DURATION_TOLERANCE_S=0.1

die() { printf 'make_demo.sh: %s\n' "$*" >&2; exit 1; }
log() { printf '%s\n' "$*" >&2; }

[ $# -eq 1 ] || die "usage: $0 SRC_CORPUS_DIR"
[ -d "$1" ] || die "not a directory: $1"
SRC_DIR="$(cd "$1" && pwd)"
[ -f "$TSV" ] || die "missing $TSV"

command -v ffmpeg >/dev/null || die "ffmpeg not found"
command -v ffprobe >/dev/null || die "ffprobe not found"
ENCODERS="$(ffmpeg -hide_banner -encoders 2>/dev/null)"
for enc in libvorbis libopus libmp3lame aac flac; do
  grep -qE "^ A[^ ]* +$enc " <<<"$ENCODERS" || die "this ffmpeg has no '$enc' encoder"
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
trap 'die "command failed (line $LINENO): $BASH_COMMAND"' ERR

# ---- 1. read and validate demo.tsv ------------------------------------------------------------------
OUTS=() SRCS=() STARTS=() DURS=() TITLES=() ARTISTS=() ALBUMS=() GENRES=() LICENSES=() PACKAGES=() UPSTREAMS=()
declare -A ALBUM_TOTAL=() ALBUM_ARTIST=() SEEN_OUT=() DIR_ALBUM=()
header="out	src	start_s	dur_s	title	artist	album	genre	license	package	upstream"
line_no=0
while IFS= read -r line || [ -n "$line" ]; do
  line_no=$((line_no + 1))
  if [ "$line_no" -eq 1 ]; then
    [ "$line" = "$header" ] || die "demo.tsv: unexpected header (want: $header)"
    continue
  fi
  IFS=$'\t' read -r -a f <<<"$line"
  [ "${#f[@]}" -eq 11 ] || die "demo.tsv:$line_no: want 11 non-empty tab-separated fields, got ${#f[@]}"
  out=${f[0]} src=${f[1]} start=${f[2]} dur=${f[3]} album=${f[6]}
  [[ $out =~ ^([a-z0-9]+)/([a-z0-9]+)-[0-9]{2}-[a-z0-9]+(-[a-z0-9]+)*\.(ogg|opus|mp3|m4a|flac)$ ]] ||
    die "demo.tsv:$line_no: output name '$out' is not <source>/<source>-<nn>-<short-title>.<ext>"
  [ "${BASH_REMATCH[1]}" = "${BASH_REMATCH[2]}" ] || die "demo.tsv:$line_no: folder and name prefix differ in '$out'"
  [ -z "${SEEN_OUT[$out]:-}" ] || die "demo.tsv:$line_no: duplicate output '$out'"
  SEEN_OUT[$out]=1
  dir=${out%%/*}
  [ -z "${DIR_ALBUM[$dir]:-}" ] || [ "${DIR_ALBUM[$dir]}" = "$album" ] || die "demo.tsv:$line_no: folder '$dir' holds two albums"
  DIR_ALBUM[$dir]=$album
  [[ $start =~ ^[0-9]+(\.[0-9]+)?$ && $dur =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "demo.tsv:$line_no: bad start/duration"
  awk -v d="$dur" -v a="$FADE_IN_S" -v b="$FADE_OUT_S" 'BEGIN { exit !(d > a + b) }' ||
    die "demo.tsv:$line_no: excerpt shorter than its fades"
  [ -f "$SRC_DIR/$src" ] || die "demo.tsv:$line_no: source missing: $SRC_DIR/$src"
  OUTS+=("$out") SRCS+=("$src") STARTS+=("$start") DURS+=("$dur") TITLES+=("${f[4]}") ARTISTS+=("${f[5]}")
  ALBUMS+=("$album") GENRES+=("${f[7]}") LICENSES+=("${f[8]}") PACKAGES+=("${f[9]}") UPSTREAMS+=("${f[10]}")
  ALBUM_TOTAL[$album]=$(( ${ALBUM_TOTAL[$album]:-0} + 1 ))
  # album artist: the artist when every track of the album has the same one, else "Various Artists"
  if [ -z "${ALBUM_ARTIST[$album]:-}" ]; then ALBUM_ARTIST[$album]=${f[5]}
  elif [ "${ALBUM_ARTIST[$album]}" != "${f[5]}" ]; then ALBUM_ARTIST[$album]="Various Artists"; fi
done <"$TSV"
N=${#OUTS[@]}
[ "$N" -gt 0 ] || die "demo.tsv lists no tracks"
log "demo.tsv: $N excerpts in ${#ALBUM_TOTAL[@]} albums; corpus: $SRC_DIR"

# ---- 2. cut, fade, level, encode, tag ---------------------------------------------------------------
codec_args() {  # codec_args EXT -> the encoder options for that output format (in array CODEC)
  case $1 in
    ogg)  CODEC=(-c:a libvorbis -q:a 0) ;;                                   # Vorbis VBR, ~64 kbit/s
    opus) CODEC=(-c:a libopus -b:a 40k -vbr on -ar 48000) ;;                 # Opus VBR, ~40 kbit/s
    mp3)  CODEC=(-c:a libmp3lame -b:a 80k -id3v2_version 3 -write_id3v1 0) ;;  # LAME CBR 80 kbit/s
    m4a)  CODEC=(-c:a aac -b:a 64k -movflags +faststart) ;;                  # AAC-LC in MP4
    flac) CODEC=(-c:a flac -compression_level 8 -ac 1 -ar 22050 -sample_fmt s16) ;;  # lossless, mono 22.05 kHz
    *)    die "no encoder for .$1" ;;
  esac
}

created=0 updated=0 unchanged=0
for ((i = 0; i < N; i++)); do
  out=${OUTS[$i]} src=${SRCS[$i]} start=${STARTS[$i]} dur=${DURS[$i]} album=${ALBUMS[$i]}
  ext=${out##*.} base=${out##*/}
  nn=${base#*-}; nn=${nn%%-*}
  fade_out_st=$(awk -v d="$dur" -v f="$FADE_OUT_S" 'BEGIN { printf "%.3f", d - f }')

  # cut + fades. The input seek is sample-accurate (ffmpeg decodes from the preceding seek point and drops
  # up to `start`), but `-t` can end a few hundred samples early on Vorbis input, so the length is set in
  # samples instead: trimmed to, or zero-padded up to, exactly round(dur * rate).
  rate_hz=$(ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate -of default=nw=1:nk=1 "$SRC_DIR/$src")
  [[ $rate_hz =~ ^[0-9]+$ ]] || die "$out: cannot read the sample rate of $src"
  n_samples=$(awk -v d="$dur" -v r="$rate_hz" 'BEGIN { printf "%d", d * r + 0.5 }')
  ffmpeg -nostdin -hide_banner -v error -ss "$start" -i "$SRC_DIR/$src" -map 0:a:0 -vn \
    -af "atrim=end_sample=$n_samples,apad=whole_len=$n_samples,afade=t=in:st=0:d=$FADE_IN_S,afade=t=out:st=$fade_out_st:d=$FADE_OUT_S" \
    -c:a pcm_f32le -f wav -y "$TMP/cut.wav"
  cut_samples=$(ffprobe -v error -show_entries stream=duration_ts -of default=nw=1:nk=1 "$TMP/cut.wav")
  [ "$cut_samples" = "$n_samples" ] || die "$out: cut has $cut_samples samples, want $n_samples"

  # EBU R128 integrated loudness and true peak of the faded excerpt -> one gain for the whole excerpt
  ffmpeg -nostdin -hide_banner -nostats -v info -i "$TMP/cut.wav" \
    -af ebur128=peak=true:framelog=verbose -f null - >"$TMP/ebur128.log" 2>&1 ||
    die "$out: loudness measurement failed: $(tail -n 3 "$TMP/ebur128.log")"
  stats=$(awk '/^ +I: / { i = $2 } /^ +Peak: / { p = $2 } END { print i, p }' "$TMP/ebur128.log")
  read -r lufs peak <<<"$stats"
  [[ $lufs =~ ^-?[0-9]+(\.[0-9]+)?$ && $peak =~ ^-?[0-9]+(\.[0-9]+)?$ ]] ||
    die "$out: could not measure loudness (got '$stats'); is the excerpt silent?"
  gain_db=$(awk -v l="$lufs" -v p="$peak" -v t="$TARGET_LUFS" -v m="$MAX_TRUE_PEAK_DBTP" \
    'BEGIN { g = t - l; if (m - p < g) g = m - p; printf "%.2f", g }')

  codec_args "$ext"
  comment="Excerpt (${dur} s from ${start} s; faded in/out, level-adjusted by $(printf '%+.2f' "$gain_db") dB,"
  comment+=" re-encoded) of corpus file $src, made from Debian package(s) ${PACKAGES[$i]} (${UPSTREAMS[$i]})."
  comment+=" Licence: ${LICENSES[$i]}. Credits, provenance and licence texts: ATTRIBUTION.md of the tuneatlas"
  comment+=" demo library (assets/demo)."
  ffmpeg -nostdin -hide_banner -v error -i "$TMP/cut.wav" -af "volume=${gain_db}dB" -map_metadata -1 \
    -metadata title="${TITLES[$i]}" -metadata artist="${ARTISTS[$i]}" -metadata album="$album" \
    -metadata album_artist="${ALBUM_ARTIST[$album]}" -metadata genre="${GENRES[$i]}" \
    -metadata track="$((10#$nn))/${ALBUM_TOTAL[$album]}" -metadata comment="$comment" \
    -metadata license="${LICENSES[$i]}" \
    "${CODEC[@]}" -fflags +bitexact -flags:a +bitexact -y "$TMP/new.$ext"

  # decode check: the whole file decodes without errors and has the excerpt's length
  ffmpeg -nostdin -hide_banner -v error -xerror -i "$TMP/new.$ext" -f null - ||
    die "$out: the encoded file does not decode cleanly"
  got_s=$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$TMP/new.$ext")
  awk -v g="$got_s" -v d="$dur" -v t="$DURATION_TOLERANCE_S" 'BEGIN { x = g - d; if (x < 0) x = -x; exit !(x <= t) }' ||
    die "$out: duration $got_s s, want $dur s"

  dest="$HERE/$out"
  mkdir -p "$(dirname "$dest")"
  if [ ! -e "$dest" ]; then
    mv "$TMP/new.$ext" "$dest"; created=$((created + 1)); what=created
  elif cmp -s "$TMP/new.$ext" "$dest"; then
    rm -f "$TMP/new.$ext"; unchanged=$((unchanged + 1)); what=unchanged
  else
    mv "$TMP/new.$ext" "$dest"; updated=$((updated + 1)); what=updated
  fi
  log "$(printf '[%2d/%d] %-9s %-52s %6s LUFS -> %+6s dB  %7d bytes' $((i + 1)) "$N" "$what" "$out" "$lufs" "$gain_db" "$(stat -c %s "$dest")")"
done

# ---- 3. remove audio files that demo.tsv no longer lists ----------------------------------------------
removed=0
while IFS= read -r -d '' f; do
  rel=${f#"$HERE"/}
  if [ -z "${SEEN_OUT[$rel]:-}" ]; then rm -f -- "$f"; removed=$((removed + 1)); log "removed stale $rel"; fi
done < <(find "$HERE" -mindepth 2 -type f \( -name '*.ogg' -o -name '*.opus' -o -name '*.mp3' -o -name '*.m4a' \
  -o -name '*.flac' \) -print0)
find "$HERE" -mindepth 1 -type d -empty -delete

# ---- 4. every excerpt must be credited in ATTRIBUTION.md -----------------------------------------------
[ -f "$HERE/ATTRIBUTION.md" ] || die "missing $HERE/ATTRIBUTION.md"
uncredited=0
for out in "${OUTS[@]}"; do
  grep -qF "\`${out##*/}\`" "$HERE/ATTRIBUTION.md" || { log "not credited in ATTRIBUTION.md: $out"; uncredited=$((uncredited + 1)); }
done
[ "$uncredited" -eq 0 ] || die "ATTRIBUTION.md does not credit $uncredited excerpt(s); add them before shipping"

total_bytes=$(find "$HERE" -type f -printf '%s\n' | awk '{ s += $1 } END { print s + 0 }')
log "done: $created created, $updated updated, $unchanged unchanged, $removed removed;" \
  "assets/demo holds $(awk -v b="$total_bytes" 'BEGIN { printf "%.2f", b / 1e6 }') MB"
