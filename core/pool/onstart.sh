#!/bin/bash
# AI KINGS onstart: Vast runs this in every rented container after its entrypoint.
# 1. Installs ComfyUI if the image has none, and the custom nodes in $AIK_CUSTOM_NODES.
# 2. Fetches each $AIK_MODEL_<n> (folder/file=url), $AIK_PARALLEL at a time, resuming partial
#    files; checks it against $AIK_CHECK_<n> (sha256:bytes) or else the source's metadata
#    (Hugging Face X-Linked-Etag/Size); fetches a bad file once more; writes every verdict to
#    input/aikings-provision.json, which the health check reads. A file verified before
#    (a prebuilt image) is neither fetched nor hashed again.
# 3. Restarts ComfyUI with $COMFYUI_ARGS (--preview-method ...) via the image's supervisor
#    (ComfyUI on :18188 behind Caddy :8188, token $OPEN_BUTTON_TOKEN), else on localhost only.
# HF_TOKEN / CIVITAI_TOKEN reach curl on stdin: never on a command line, never in the log.
set -u
C="${WORKSPACE:-/workspace}/ComfyUI"
LOG="${AIK_LOG:-/var/log/aikings-onstart.log}"
R="$C/input/aikings-provision.json"
exec >>"$LOG" 2>&1
echo "aikings onstart: $(date -u +%FT%TZ)"
rm -f "$R"
if [ ! -f "$C/main.py" ]; then
  git clone --depth 1 https://github.com/comfyanonymous/ComfyUI "$C" || exit 1
  python3 -m pip install -q -r "$C/requirements.txt" || exit 1
fi
for repo in ${AIK_CUSTOM_NODES:-}; do
  d="$C/custom_nodes/$(basename "$repo" .git)"
  if [ ! -d "$d" ] && git clone --depth 1 "$repo" "$d" && [ -f "$d/requirements.txt" ]; then
    python3 -m pip install -q -r "$d/requirements.txt"
  fi
done

auth() {
  case "$1" in
    https://huggingface.co/*) t="${HF_TOKEN:-}" ;;
    https://civitai.com/*) t="${CIVITAI_TOKEN:-}" ;;
    *) t= ;;
  esac
  [ -z "$t" ] || printf 'header = "Authorization: Bearer %s"\n' "$t"
}
meta() {
  auth "$1" | curl -K - -sI "$1" | tr -d '\r"' | awk -v k="$2:" 'tolower($1)==k {print $2}'
}
fetch() {
  p="${1%%=*}" u="${1#*=}" s="${2%%:*}" z="${2#*:}" a=0 ok=0 x=pinned hs= hz=0
  f="$C/models/$p"
  [ -f "$f.aik-ok" ] && read -r hs hz <"$f.aik-ok"
  if [[ -n $hs && $hz == "$(stat -c %s "$f" 2>/dev/null)" && ${s:-$hs} == "$hs" && ${z:-$hz} == "$hz" ]]; then
    ok=1 x=stamp
  fi
  if [ $ok = 0 ] && [ -z "$s$z" ]; then
    x=source s=$(meta "$u" x-linked-etag) z=$(meta "$u" x-linked-size)
    [ -n "$s$z" ] || x=none
  fi
  while [ $ok = 0 ] && [ $a -lt 2 ]; do
    if [ ! -s "$f" ]; then
      a=$((a + 1))
      mkdir -p "${f%/*}"
      auth "$u" | curl -K - -fsSL -C - --retry 3 -o "$f.part" "$u" && mv "$f.part" "$f"
    fi
    hz=$(stat -c %s "$f" 2>/dev/null || echo 0) hs=$(sha256sum "$f" 2>/dev/null | cut -c1-64)
    ok=1
    [[ (-n $s && $s != "$hs") || (-n $z && $z != "$hz") || $hz == 0 ]] && ok=0
    [ $ok = 1 ] && echo "$hs $hz" >"$f.aik-ok" && break
    echo "aikings onstart: $p failed its check ($hz bytes, attempt $a)"
    rm -f "$f" "$f.part" "$f.aik-ok"
  done
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$hz" "$hs" "$x" "$ok" "$a" >"$W/$3"
}
W=$(mktemp -d)
for v in $(compgen -v AIK_MODEL_); do
  n="${v#AIK_MODEL_}" c="AIK_CHECK_${v#AIK_MODEL_}"
  while [ "$(jobs -rp | wc -l)" -ge "${AIK_PARALLEL:-4}" ]; do wait -n; done
  fetch "${!v}" "${!c:-}" "$n" &
done
wait
mkdir -p "${R%/*}"
python3 - "$W" "$R" <<'EOF'
import json, os, sys
w, r = sys.argv[1:]
files = {}
for n in os.listdir(w):
    p, z, s, x, ok, a = open(os.path.join(w, n)).read().rstrip("\n").split("\t")
    files[p] = {"size_bytes": int(z or 0), "sha256": s, "expected": x, "ok": ok == "1", "attempts": int(a)}
bad = sorted(p for p, v in files.items() if not v["ok"])
json.dump({"version": 1, "files": files, "failed": bad}, open(r + ".tmp", "w"))
os.replace(r + ".tmp", r)
EOF
rm -rf "$W"
if ! { command -v supervisorctl >/dev/null && supervisorctl restart comfyui; }; then
  cd "$C" && nohup python3 main.py --listen 127.0.0.1 ${COMFYUI_ARGS:---port 18188 --preview-method auto} >>"$LOG" 2>&1 &
fi
echo "aikings onstart: done"
