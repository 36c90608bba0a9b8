#!/usr/bin/env bash
# The survey of public APIM policy samples, run by hand (not a CI step: it needs a clone
# of a public repository). Loads each document of documents.txt with `certgate check`
# and writes results.tsv (one line per document: loaded, how, the first error) and
# ranking.md (the first errors by cause) to OUT.
#
#   git clone https://github.com/Azure/api-management-policy-snippets /tmp/snippets
#   cargo build --bin certgate
#   tests/data/apim-samples/survey.sh /tmp/snippets [OUT]     # OUT: target/apim-samples
#
# CERTGATE=path overrides target/debug/certgate.
set -u
SURVEY=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$SURVEY/../../.." && pwd)
CLONE=${1:?usage: survey.sh CLONE_OF_api-management-policy-snippets [OUT]}
OUTDIR=${2:-$REPO/target/apim-samples}
CERTGATE=${CERTGATE:-$REPO/target/debug/certgate}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUTDIR"
OUT=$OUTDIR/results.tsv
# The documents, each under a flat name (`examples/A b.xml` -> `examples__A_b.xml`).
DOCS=$WORK/docs
mkdir -p "$DOCS"
flat() { local p=${1//\//__}; printf '%s' "${p// /_}"; }
while IFS= read -r path; do
  case "$path" in ''|'#'*) continue ;; esac
  if [ ! -f "$CLONE/$path" ]; then echo "missing in the clone: $path" >&2; continue; fi
  cp "$CLONE/$path" "$DOCS/$(flat "$path")"
done < "$SURVEY/documents.txt"
printf 'file\tloaded\tmode\texit\tfirst_error\n' > "$OUT"

TRIVIAL_SECTIONS='<backend><forward-request /></backend><outbound /><on-error />'

write_toml() { # $1 dir, $2 api policy (optional)
  cat > "$1/gateway.toml" <<T
[deployment]
service_name = "contoso"
region = "eu-west-1"
certificate_source = "apigateway"
policy = "policies/global.xml"

[[apis]]
name = "sample"
path = "/sample"
backend = "https://backend.example.com"
T
  [ -n "${2:-}" ] && echo "policy = \"$2\"" >> "$1/gateway.toml"
  return 0
}

# Root element of a document (first element after comments / prolog).
root_of() {
  python3 - "$1" <<'P'
import re,sys
t=open(sys.argv[1],encoding='utf-8',errors='replace').read()
t=re.sub(r'<\?.*?\?>','',t,flags=re.S)
# strip comments (non-greedy; tolerant of malformed ones)
# A document that contains a <policies> (or <fragment>) element anywhere is
# taken as such, even if a malformed comment hides its start: it is then
# loaded as written and certgate reports the defect.
if re.search(r'<policies[\s>]',t): print('policies'); sys.exit()
if re.search(r'<fragment[\s>]',t): print('fragment'); sys.exit()
t=re.sub(r'<!--.*?-->','',t,flags=re.S)
m=re.search(r'<([A-Za-z_][\w:.-]*)',t)
print(m.group(1) if m else '')
P
}

# Section for a bare snippet: the section its comment names, default inbound.
section_of() {
  if grep -qiE 'into the (outbound)' "$1"; then echo outbound
  elif grep -qiE 'into the (on-error)' "$1"; then echo on-error
  else echo inbound; fi
}

# Named values: "x" first; if the error is about the placeholder value itself,
# retry with a value shaped by the name (URL / number / base64 text).
nv_value() { # $1 name, $2 heuristic?
  if [ -z "${2:-}" ]; then echo x; return; fi
  case "${1,,}" in
    *url*|*server*|*endpoint*|*uri*|*oidc*|*authority*) echo "https://nv.example.com/x" ;;
    *host*) echo "https://nv.example.com" ;;
    *second*|*duration*|*timeout*|*count*|*expires*|*ttl*|*limit*|*weight*|*percent*|*cachetime*) echo 60 ;;
    *encryptionkey) echo 1 ;;
    *) echo "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHg=" ;;
  esac
}
run_check() { # $1 dir, $2 doc, $3 heuristic? -> sets RC, MSG, RAW
  local nv=()
  for n in $(cat "$2" "$1"/fragments/*.xml 2>/dev/null | grep -oE '\{\{[A-Za-z0-9_./-]+\}\}' | sort -u | tr -d '{}'); do
    # APIM named-value names are letters, digits, '.', '-', '_' (certgate's CLI
    # refuses others); a {{placeholder}} outside that is left for certgate to report.
    [[ "$n" =~ ^[A-Za-z0-9._-]{1,256}$ ]] || continue
    nv+=(--named-value "$n=$(nv_value "$n" "${3:-}")")
  done
  RAW=$(timeout 60 "$CERTGATE" check --config "$1" "${nv[@]}" 2>&1); RC=$?
  MSG=$(printf '%s\n' "$RAW" | grep -v '^\s*$' | head -1 | tr '\t' ' ' | cut -c1-400)
}

for doc in "$DOCS"/*; do
  name=$(basename "$doc")
  d=$WORK/$name; rm -rf "$d"; mkdir -p "$d/policies" "$d/fragments"
  root=$(root_of "$doc")
  mode=""
  case "$root" in
    policies)
      write_toml "$d"; cp "$doc" "$d/policies/global.xml"; mode=global ;;
    fragment)
      write_toml "$d"; cp "$doc" "$d/fragments/survey-fragment.xml"
      echo "<policies><inbound><include-fragment fragment-id=\"survey-fragment\" /></inbound>$TRIVIAL_SECTIONS</policies>" > "$d/policies/global.xml"
      mode=fragment ;;
    *)
      # Bare snippet (policy elements meant to be pasted into a section): wrap it.
      sec=$(section_of "$doc")
      write_toml "$d"
      python3 - "$doc" "$sec" > "$d/policies/global.xml" <<'P'
import sys,re
t=open(sys.argv[1],encoding='utf-8').read(); sec=sys.argv[2]
t=re.sub(r'^\s*<\?xml[^>]*\?>','',t)
secs={'inbound':'','backend':'<forward-request />','outbound':'','on-error':''}
secs[sec]=t
print('<policies>'+''.join(f'<{k}>{v}</{k}>' for k,v in secs.items())+'</policies>')
P
      mode="wrapped-$sec" ;;
  esac
  # Fragments the document includes: install them from fragment-ids.tsv if saved.
  for fid in $(grep -oE 'include-fragment[^>]*fragment-id="[^"]+"' "$doc" | sed -E 's/.*fragment-id="([^"]+)"/\1/' | sort -u); do
    src=$(awk -F'\t' -v id="$fid" '$1==id{print $2}' "$SURVEY/fragment-ids.tsv" 2>/dev/null)
    [ -n "$src" ] && src=$(flat "$src")
    if [ -n "$src" ] && [ -f "$DOCS/$src" ]; then cp "$DOCS/$src" "$d/fragments/$fid.xml"; mode="$mode+frag:$fid"; fi
  done
  run_check "$d" "$doc"
  # <base/> refused at global scope -> retry as the API's policy.
  if [ $RC -ne 0 ] && [ "$mode" != fragment ] && printf '%s' "$RAW" | grep -qiE '<base|base.*(global|scope|no parent)'; then
    mv "$d/policies/global.xml" "$d/policies/api.xml"
    echo "<policies><inbound />$TRIVIAL_SECTIONS</policies>" > "$d/policies/global.xml"
    write_toml "$d" "policies/api.xml"
    mode="$mode->api"
    run_check "$d" "$doc"
  fi
  if [ $RC -ne 0 ] && grep -qE '\{\{' "$doc" && printf '%s' "$MSG" | grep -qE '`x`|"x"|'"'x'"; then
    run_check "$d" "$doc" h; mode="$mode+nv-shaped"
  fi
  if [ $RC -eq 0 ]; then loaded=yes; else loaded=no; fi
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$loaded" "$mode" "$RC" "$MSG" >> "$OUT"
done
echo "documents: $(($(wc -l < "$OUT")-1))  loaded: $(grep -c $'\tyes\t' "$OUT")"
python3 "$SURVEY/classify.py" "$OUTDIR" "$DOCS" && echo "ranking: $OUTDIR/ranking.md"
