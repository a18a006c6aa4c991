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
icon=$(hashed src/icon.svg icon.svg)

# The page runs one module: main.js and everything it imports, bundled and
# minified by esbuild (one request and one compile in place of fifteen
# modules fetched and linked one by one; a new tab has no compiled code
# to reuse). Each module is also copied on its own and named in the import
# map: the event stream's worker is loaded so (main.js resolves
# ./events-worker.js), and tests import single modules.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
node_modules/.bin/esbuild src/main.js --bundle --minify --format=esm --target=es2022 \
	--legal-comments=none --charset=utf8 --log-level=warning --outfile="$tmp/app.js"
app_js=$(hashed "$tmp/app.js" app.js)
imports=""
for f in src/*.js; do
	name=$(basename "$f")
	url=$(hashed "$f" "$name")
	imports="$imports${imports:+,
}      \"/assets/$name\": \"$url\""
done

# The style sheets are inlined (no request holds up the first layout).
# uPlot is only preloaded: main.js runs it once the first queries are on
# their way (its ~50 ms of set-up overlap gmc's answer).
for css in "$uplot/uPlot.min.css" src/app.css; do
	! grep -qi '</style' "$css" || { echo "build.sh: $css contains </style" >&2; exit 1; }
done
{
	sed -n '1,/@@HEAD@@/p' index.html | sed '$d'
	cat <<HTML
  <link rel="icon" href="$icon" type="image/svg+xml">
  <style>
HTML
	cat "$uplot/uPlot.min.css"
	echo
	cat src/app.css
	cat <<HTML
  </style>
  <script type="importmap">
  {
    "imports": {
$imports
    }
  }
  </script>
  <link rel="preload" as="script" id="uplot" href="$uplot_js">
  <script type="module" src="$app_js"></script>
HTML
	sed -n '/@@HEAD@@/,$p' index.html | sed '1d'
} > "$out/index.html"
echo "build.sh: wrote $(find "$out" -type f | wc -l) files to internal/web/dist"
