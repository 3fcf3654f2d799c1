#!/bin/bash
# AI KINGS onstart (core/pool/launch.py). Tokens: stdin only.
set -u
C=${WORKSPACE:-/workspace}/ComfyUI
LOG=${AIK_LOG:-/var/log/aikings-onstart.log}
R=$C/input/aikings-provision.json
exec >>"$LOG" 2>&1
echo "aikings onstart: $(date -u +%FT%TZ)"
rm -f "$R"
if [ ! -f "$C/main.py" ]; then
 git clone --depth 1 https://github.com/comfyanonymous/ComfyUI "$C" || exit 1
 python3 -m pip install -q -r "$C/requirements.txt" || exit 1
fi
for v in $(compgen -v AIK_NODE_); do
 e=${!v} d=$C/custom_nodes/${e%%=*} u=${e#*=}
 if [ "$(git -C "$d" rev-parse HEAD 2>/dev/null)" != "${u##*@}" ]; then
  rm -rf "$d"; git init -q "$d" && git -C "$d" fetch -q --depth 1 "${u%@*}" "${u##*@}" &&
   git -C "$d" checkout -q FETCH_HEAD && { [ ! -f "$d/requirements.txt" ] ||
   python3 -m pip install -q -r "$d/requirements.txt"; }
 fi
done
if ! { command -v supervisorctl >/dev/null && supervisorctl restart comfyui; }; then
 cd "$C" && nohup python3 main.py --listen 127.0.0.1 ${COMFYUI_ARGS:---port 18188 --preview-method auto} >>"$LOG" 2>&1 &
fi
command -v aria2c >/dev/null || apt-get install -y -qq aria2 >/dev/null 2>&1
tok() {
 case "$1" in
  https://huggingface.co/*) printf %s "${HF_TOKEN:-}" ;;
  https://civitai.com/*) printf %s "${CIVITAI_TOKEN:-}" ;;
 esac
}
meta() {
 t=$(tok "$1")
 { [ -z "$t" ] || printf 'header = "Authorization: Bearer %s"\n' "$t"; } | curl -K - -sI "$1" | tr -d '\r"' | awk -v k="$2:" 'tolower($1)==k {print $2}'
}
get() {
 t=$(tok "$1")
 if command -v aria2c >/dev/null; then
  { printf '%s\n dir=%s\n out=%s\n' "$1" "${2%/*}" "${2##*/}"
   [ -z "$t" ] || printf ' header=Authorization: Bearer %s\n' "$t"; } | aria2c -q -c -x8 -s8 -k4M --file-allocation=none -i -
 else
  { [ -z "$t" ] || printf 'header = "Authorization: Bearer %s"\n' "$t"; } | curl -K - -fsSL -C - --retry 3 -o "$2" "$1"
 fi
}
fetch() {
 p=${1%%=*} u=${1#*=} s=${2%%:*} z=${2#*:} a=0 ok=0 x=pinned hs= hz=0
 f=$C/models/$p
 [ -f "$f.aik-ok" ] && read -r hs hz <"$f.aik-ok"
 if [[ -n $hs && $hz == "$(stat -c %s "$f" 2>/dev/null)" && ${s:-$hs} == "$hs" && ${z:-$hz} == "$hz" ]]; then
  ok=1 x=stamp
 fi
 if [ $ok = 0 -a -z "$s$z" ]; then
  x=source s=$(meta "$u" x-linked-etag) z=$(meta "$u" x-linked-size)
  [ -n "$s$z" ] || x=none
 fi
 while [ $ok = 0 -a $a -lt 2 ]; do
  if [ ! -s "$f" ]; then
   a=$((a + 1))
   mkdir -p "${f%/*}"
   get "$u" "$f.part" && mv "$f.part" "$f"
  fi
  hz=$(stat -c %s "$f" 2>/dev/null || echo 0) hs=$(sha256sum "$f" 2>/dev/null | cut -c1-64)
  ok=1
  [[ (-n $s && $s != "$hs") || (-n $z && $z != "$hz") || $hz == 0 ]] && ok=0
  [ $ok = 1 ] && echo "$hs $hz" >"$f.aik-ok" && break
  echo "aikings: $p failed its check ($hz bytes, attempt $a)"
  rm -f "$f"{,.part,.part.aria2,.aik-ok}
 done
 printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$hz" "$hs" "$x" "$ok" "$a" >"$W/$3"
}
fetch_all() {
 for v in "$@"; do
  while [ $(jobs -rp | wc -l) -ge ${AIK_PARALLEL:-4} ]; do wait -n; done
  c="AIK_CHECK_${v#AIK_MODEL_}"
  fetch "${!v}" "${!c:-}" "${v#AIK_MODEL_}" &
 done
 wait
}
report() {
 mkdir -p "${R%/*}"
 python3 - "$W" "$R" "$@" <<'EOF'
import json,os,sys
w,r,*t=sys.argv[1:]
f={}
for n in os.listdir(w):
 p,z,s,x,o,a=open(w+"/"+n).read().rstrip("\n").split("\t")
 f[p]={"size_bytes":int(z or 0),"sha256":s,"expected":x,"ok":o=="1","attempts":int(a)}
json.dump({"version":1,"files":f,"failed":sorted(p for p in f if not f[p]["ok"]),"pending":sorted(t)},open(r+".tmp","w"))
os.replace(r+".tmp",r)
EOF
}
W=$(mktemp -d) V=($(compgen -v AIK_MODEL_)) L=()
K=${AIK_FIRST:-${#V[@]}}
fetch_all "${V[@]:0:K}"
for v in "${V[@]:K}"; do L+=("${!v%%=*}"); done
report "${L[@]}"
[ ${#L[@]} = 0 ] || { fetch_all "${V[@]:K}" && report; }
echo "aikings onstart: done"
Q=${R%/*}/aikings-want.tsv
while sleep ${AIK_WATCH_S:-10}; do
 [ "$(tail -n1 "$Q" 2>/dev/null)" = . ] && mv "$Q" "$Q.x" || continue
 V=() L=()
 while IFS=$'\t' read -r n m c; do
  [[ $n =~ ^[0-9]+$ && $m =~ ^[a-z_/]+/[A-Za-z0-9._-]+=https://[[:graph:]]+$ ]] || continue
  declare "AIK_MODEL_W$n=$m" "AIK_CHECK_W$n=$c"
  V+=(AIK_MODEL_W$n) L+=("${m%%=*}")
 done <"$Q.x"
 report "${L[@]}";fetch_all "${V[@]}";report
done &
