#!/usr/bin/env bash
# The 656-d teacher targets dpnn-v2.1 was distilled from (see README.md, "Objective"):
# the musicnn targets of shared/teacher/targets with the penultimates of musicnn's two vgg models
# (MSD_vgg, MTT_vgg: pool5, 128-d each, on the same clip grid) appended to every row.
#
# usage: vgg_teachers.sh TEACHER_HOME CORPUS_DIR SHARED_DIR OUT_DIR
#   TEACHER_HOME  the environment of SHARED_DIR/teacher/setup_teacher.sh (venv + musicnn_src)
#   CORPUS_DIR    the corpus audio (SHARED_DIR/corpus/setup_corpus.sh)
#   SHARED_DIR    the folder holding teacher/ (label_clips.py, targets/) and corpus/train.tsv
#   OUT_DIR       gets vgg/ (the vgg pair alone) and combined/ (clips.tsv of the musicnn targets,
#                 penultimate.npy float16 [clips, 400 + 256]): pass combined/ as --targets
# Resumable (label_clips.py is); ~11 min on a 2-core machine.
set -euo pipefail
[ $# -eq 4 ] || { sed -n 6,12p "$0"; exit 2; }
T=$1 CORPUS=$2 SHARED=$3 OUT=$4
mkdir -p "$OUT/vgg" "$OUT/combined"
# label_clips.py with the vgg models instead of the musicnn ones; everything else (the clip grid,
# decoding, resampling, the per-clip mean over 3 s patches) is unchanged.
sed -e 's/("MSD_musicnn", "MTT_musicnn")/("MSD_vgg", "MTT_vgg")/' \
    -e 's/res\["MSD_musicnn"\]/res["MSD_vgg"]/g' -e 's/res\["MTT_musicnn"\]/res["MTT_vgg"]/g' \
    "$SHARED/teacher/label_clips.py" > "$OUT/label_clips_vgg.py"
grep -q '("MSD_vgg", "MTT_vgg")' "$OUT/label_clips_vgg.py" || { echo "label_clips.py changed: edit $0" >&2; exit 1; }
ln -sf "$SHARED/teacher/teacher.py" "$OUT/teacher.py"
MUSICNN_SRC="$T/musicnn_src" "$T/venv/bin/python" "$OUT/label_clips_vgg.py" \
    "$CORPUS" "$SHARED/corpus/train.tsv" "$OUT/vgg"
cp "$SHARED/teacher/targets/clips.tsv" "$SHARED/teacher/targets/tracks_labelled.tsv" "$OUT/combined/"
"$T/venv/bin/python" - "$SHARED/teacher/targets/penultimate.npy" "$OUT/vgg/penultimate.npy" \
    "$OUT/combined/penultimate.npy" <<'EOF'
import sys
import numpy as np
musicnn, vgg = np.load(sys.argv[1]), np.load(sys.argv[2])
assert musicnn.shape[0] == vgg.shape[0], "the two label runs cover different clips"
np.save(sys.argv[3], np.concatenate([musicnn, vgg], axis=1).astype(np.float16))
print("combined", musicnn.shape, "+", vgg.shape, "->", sys.argv[3])
EOF
