#!/usr/bin/env bash
# Rebuilds assets/fonts/DejaVuSans{,-Bold}.ttf, the fonts embedded in every PDF report, from Debian's
# fonts-dejavu-core with fontTools' pyftsubset: Latin (with extensions and IPA), combining marks, Greek,
# Cyrillic, punctuation, currency, letterlike symbols, arrows, maths, box drawing, shapes, dingbats.
# No hinting and no OpenType layout tables: the PDF renderer places glyphs by advance width only.
# The subsets are a third of the full fonts' size, which is what every PDF and the renderer's memory
# pay for them. Other characters (e.g. CJK) show as the font's missing-glyph box, as before.
set -euo pipefail
cd "$(dirname "$0")/.."
src=/usr/share/fonts/truetype/dejavu
[ -f "$src/DejaVuSans.ttf" ] || { echo "install fonts-dejavu-core first (apt-get install fonts-dejavu-core)" >&2; exit 1; }
command -v pyftsubset >/dev/null || pip install --quiet fonttools
ranges="U+0000-024F,U+0250-02FF,U+0300-036F,U+0370-03FF,U+0400-04FF,U+1E00-1EFF,U+2000-206F,U+20A0-20CF,U+2100-214F,U+2190-21FF,U+2200-22FF,U+2500-257F,U+25A0-25FF,U+2600-26FF,U+2700-27BF,U+FFFD"
for face in DejaVuSans DejaVuSans-Bold; do
  pyftsubset "$src/$face.ttf" --unicodes="$ranges" --output-file="assets/fonts/$face.ttf" \
    --layout-features='' --notdef-outline --name-IDs='*' --name-legacy --name-languages='*' --no-hinting
done
ls -l assets/fonts/*.ttf
