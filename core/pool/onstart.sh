#!/bin/bash
# AI KINGS onstart template: Vast runs this in every rented container after its entrypoint.
# It makes ComfyUI usable for the pool's workflows, then (re)starts it:
#   1. installs ComfyUI when the image has none;
#   2. installs the custom nodes in $AIK_CUSTOM_NODES (space-separated git URLs);
#   3. downloads the models named by $AIK_MODEL_1, $AIK_MODEL_2, ... (each `folder/file=url`),
#      skipping files already present, never leaving a half-written file under its final name;
#   4. restarts ComfyUI so it loads the new nodes: through the image's supervisor when it has
#      one (vastai/comfy: ComfyUI on localhost:18188 behind Caddy on :8188, bearer token
#      $OPEN_BUTTON_TOKEN), otherwise on localhost:18188 only. ComfyUI is never published
#      without that authenticating proxy.
# The variables are set by core/pool/launch.py from data/presets.toml.
set -u
COMFY_DIR="${WORKSPACE:-/workspace}/ComfyUI"
LOG=/var/log/aikings-onstart.log
exec >>"$LOG" 2>&1
echo "aikings onstart: $(date -u +%FT%TZ)"

if [ ! -f "$COMFY_DIR/main.py" ]; then
  git clone --depth 1 https://github.com/comfyanonymous/ComfyUI "$COMFY_DIR" || exit 1
  python3 -m pip install -q -r "$COMFY_DIR/requirements.txt" || exit 1
fi

for repo in ${AIK_CUSTOM_NODES:-}; do
  target="$COMFY_DIR/custom_nodes/$(basename "$repo" .git)"
  if [ ! -d "$target" ]; then
    git clone --depth 1 "$repo" "$target" || continue
    if [ -f "$target/requirements.txt" ]; then
      python3 -m pip install -q -r "$target/requirements.txt"
    fi
  fi
done

for var in $(compgen -v AIK_MODEL_); do
  item="${!var}"
  target="$COMFY_DIR/models/${item%%=*}"
  url="${item#*=}"
  if [ ! -s "$target" ]; then
    mkdir -p "$(dirname "$target")"
    if wget -q -O "$target.part" "$url"; then
      mv "$target.part" "$target"
    else
      rm -f "$target.part"
      echo "aikings onstart: download failed: $url"
    fi
  fi
done

if ! { command -v supervisorctl >/dev/null && supervisorctl restart comfyui; }; then
  cd "$COMFY_DIR" && nohup python3 main.py --listen 127.0.0.1 --port 18188 >>"$LOG" 2>&1 &
fi
echo "aikings onstart: done"
