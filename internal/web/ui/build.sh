#!/bin/sh
# Builds gmc's dashboard into ../dist (committed; embedded by go:embed).
#
#   cd internal/web/ui && npm ci && sh build.sh
#
# Deterministic: every asset is copied to dist/assets/<name>.<hash>.<ext>
# (hash: first 12 hex digits of its SHA-256) and index.html gets an import
# map and links naming those files, so a rebuild of unchanged sources gives
# byte-identical output (CI rebuilds and runs git diff --exit-code).
set -eu
export LC_ALL=C
cd "$(dirname "$0")"
out=../dist
uplot=node_modules/uplot/dist
[ -f "$uplot/uPlot.iife.min.js" ] || { echo "build.sh: $uplot missing: run npm ci first" >&2; exit 1; }
[ "$(sed -n 's/.*"version": *"\([^"]*\)".*/\1/p' node_modules/uplot/package.json)" = 1.6.32 ] ||
	{ echo "build.sh: want uplot 1.6.32 (npm ci)" >&2; exit 1; }

rm -rf "$out"
mkdir -p "$out/assets"

# hashed SRC NAME: copies SRC to assets/<stem>.<hash>.<ext>, prints the URL.
hashed() {
	h=$(sha256sum "$1" | cut -c1-12)
	stem=${2%.*}
	ext=${2##*.}
	cp "$1" "$out/assets/$stem.$h.$ext"
	echo "/assets/$stem.$h.$ext"
}

uplot_js=$(hashed "$uplot/uPlot.iife.min.js" uPlot.js)
uplot_css=$(hashed "$uplot/uPlot.min.css" uPlot.css)
app_css=$(hashed src/app.css app.css)
icon=$(hashed src/icon.svg icon.svg)

# The modules import each other as "./name.js"; the import map sends each to
# its hashed file.
# Every module of the page is preloaded (fetched and compiled at once, not
# level by level as the imports are found); the event stream's worker is
# not one of them. uPlot is only preloaded: main.js runs it once the first
# queries are on their way (its ~50 ms of set-up overlap gmc's answer).
imports=""
preloads=""
for f in src/*.js; do
	name=$(basename "$f")
	url=$(hashed "$f" "$name")
	[ "$name" = main.js ] && main=$url
	imports="$imports${imports:+,
}      \"/assets/$name\": \"$url\""
	[ "$name" = events-worker.js ] || preloads="$preloads
  <link rel=\"modulepreload\" href=\"$url\">"
done

{
	sed -n '1,/@@HEAD@@/p' index.html | sed '$d'
	cat <<HTML
  <link rel="icon" href="$icon" type="image/svg+xml">
  <link rel="stylesheet" href="$uplot_css">
  <link rel="stylesheet" href="$app_css">
  <script type="importmap">
  {
    "imports": {
$imports
    }
  }
  </script>$preloads
  <link rel="preload" as="script" id="uplot" href="$uplot_js">
  <script type="module" src="$main"></script>
HTML
	sed -n '/@@HEAD@@/,$p' index.html | sed '1d'
} > "$out/index.html"
echo "build.sh: wrote $(find "$out" -type f | wc -l) files to internal/web/dist"
