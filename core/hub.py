"""Model metadata from Civitai and Hugging Face, read when an operator adds a model: its
name, kind, base family, file name, size, sha256 and trigger words, so provisioning can
verify the file it downloads.

Civitai: `GET /api/v1/model-versions/{id}` (the primary file's `hashes.SHA256`, `sizeKB`).
Hugging Face: `GET /api/models/{repo}/revision/{rev}?blobs=true` (the file's `lfs.sha256`
and `size`) for a `https://huggingface.co/{repo}/resolve/{rev}/{path}` URL. Failures are
`HubError` (a RemoteError keeping status and body); an unknown version or file is NotFound.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from core.errors import NotFound, RemoteError, ValidationFailed

CIVITAI_FAMILIES = {
    "SDXL 1.0": "sdxl",
    "SDXL 0.9": "sdxl",
    "Pony": "pony",
    "Illustrious": "illustrious",
    "SD 1.5": "sd15",
}
"""Civitai's `baseModel` -> our base family (others are not offered)."""
CIVITAI_FOLDERS = {
    "Checkpoint": "checkpoints",
    "LORA": "loras",
    "LoCon": "loras",
    "DoRA": "loras",
    "Upscaler": "upscale_models",
}
"""Civitai's `model.type` -> the ComfyUI models folder the file goes to."""
HF_BASE_HINTS = (
    ("pony", "pony"),
    ("illustrious", "illustrious"),
    ("xl", "sdxl"),
    ("stable-diffusion-v1-5", "sd15"),
)
"""Substrings of a Hugging Face `base_model` -> our family, first match wins."""
HF_FILE_URL = re.compile(
    r"^https://huggingface\.co/(?P<repo>[\w.-]+/[\w.-]+)/resolve/(?P<rev>[\w.-]+)/(?P<path>[\w./-]+)$"
)


class HubError(RemoteError):
    """Civitai or Hugging Face did not answer usefully."""


@dataclass(frozen=True)
class ModelInfo:
    """One model file as its source describes it."""

    source: str
    name: str
    folder: str
    family: str | None
    base_model: str
    file_name: str
    size_bytes: int
    sha256: str | None
    trigger_words: tuple[str, ...]
    download_url: str
    nsfw: bool


class HubClient:
    """Reads model metadata from Civitai and Hugging Face (one httpx client each)."""

    def __init__(
        self,
        *,
        civitai_url: str = "https://civitai.com",
        huggingface_url: str = "https://huggingface.co",
        civitai_token: str | None = None,
        hf_token: str | None = None,
        timeout_s: float = 15.0,
    ) -> None:
        self._civitai = httpx.Client(
            base_url=civitai_url, timeout=timeout_s, headers=_bearer(civitai_token)
        )
        self._hf = httpx.Client(
            base_url=huggingface_url, timeout=timeout_s, headers=_bearer(hf_token)
        )

    def close(self) -> None:
        """Close both connections."""
        self._civitai.close()
        self._hf.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def civitai_version(self, version_id: int) -> ModelInfo:
        """Civitai model version `version_id`'s primary file; NotFound for an unknown id."""
        body = _json(self._civitai, f"/api/v1/model-versions/{int(version_id)}", {})
        model = body.get("model") or {}
        files = body.get("files") or []
        primary = next((f for f in files if f.get("primary")), files[0] if files else None)
        if primary is None:
            raise HubError("That Civitai version has no file.", body=body)
        model_type = str(model.get("type", ""))
        if model_type not in CIVITAI_FOLDERS:
            raise ValidationFailed(f"Civitai {model_type or 'unknown'} models are not supported.")
        digest = (primary.get("hashes") or {}).get("SHA256")
        return ModelInfo(
            source="civitai",
            name=f"{model.get('name', '')} {body.get('name', '')}".strip(),
            folder=CIVITAI_FOLDERS[model_type],
            family=CIVITAI_FAMILIES.get(str(body.get("baseModel"))),
            base_model=str(body.get("baseModel", "")),
            file_name=str(primary["name"]),
            size_bytes=round(float(primary.get("sizeKB", 0)) * 1024),
            sha256=str(digest).lower() if digest else None,
            trigger_words=tuple(str(w) for w in body.get("trainedWords") or ()),
            download_url=str(primary.get("downloadUrl") or body.get("downloadUrl")),
            nsfw=bool(model.get("nsfw")),
        )

    def hf_file(self, url: str) -> ModelInfo:
        """The Hugging Face file at `url` (a `.../resolve/{rev}/{path}` link)."""
        match = HF_FILE_URL.match(url.strip())
        if match is None:
            raise ValidationFailed(
                "Give a Hugging Face file link: https://huggingface.co/OWNER/REPO/resolve/main/FILE"
            )
        repo, rev, path = match["repo"], match["rev"], match["path"]
        body = _json(self._hf, f"/api/models/{repo}/revision/{rev}", {"blobs": "true"})
        sibling = next((s for s in body.get("siblings") or [] if s.get("rfilename") == path), None)
        if sibling is None:
            raise NotFound(f"{repo} has no file {path!r}.")
        tags = [str(t) for t in body.get("tags") or []]
        base = str((body.get("cardData") or {}).get("base_model") or "")
        lfs = sibling.get("lfs") or {}
        return ModelInfo(
            source="huggingface",
            name=f"{repo} {path.rsplit('/', 1)[-1]}",
            folder=_hf_folder(path, tags),
            family=next((family for hint, family in HF_BASE_HINTS if hint in base.lower()), None),
            base_model=base,
            file_name=path.rsplit("/", 1)[-1],
            size_bytes=int(lfs.get("size") or sibling.get("size") or 0),
            sha256=lfs.get("sha256"),
            trigger_words=(),
            download_url=url.strip(),
            nsfw="not-for-all-audiences" in tags,
        )


def _bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _hf_folder(path: str, tags: list[str]) -> str:
    if path.endswith(".pth"):
        return "upscale_models"
    return "loras" if "lora" in tags else "checkpoints"


def _json(client: httpx.Client, path: str, params: dict[str, str]) -> dict[str, Any]:
    """GET `path` as JSON: NotFound for 401/404 (both APIs answer so for what is not there
    or not visible), HubError for any other failure."""
    try:
        reply = client.get(path, params=params)
    except httpx.HTTPError as exc:
        raise HubError(f"Could not reach {client.base_url.host}: {exc}") from exc
    if reply.status_code in (401, 404):
        raise NotFound(f"Not found at {client.base_url.host} (or it needs a token).")
    if reply.status_code != 200:
        raise HubError(
            f"{client.base_url.host} answered {reply.status_code}.",
            status=reply.status_code,
            body=reply.text,
        )
    try:
        body: dict[str, Any] = reply.json()
    except ValueError as exc:
        raise HubError(
            f"{client.base_url.host} sent something that is not JSON.", body=reply.text
        ) from exc
    return body


def catalogue_toml(info: ModelInfo, *, label: str | None = None) -> str:
    """The presets.toml lines that add `info`: its `[downloads]` entry with the pinned
    sha256 and size, and its catalogue entry (a checkpoint's family, a LoRA with its
    family and trigger words, an upscaler with its factor)."""
    lines = [f'[downloads."{info.folder}/{info.file_name}"]', f'url = "{info.download_url}"']
    if info.sha256:
        lines.append(f'sha256 = "{info.sha256}"')
    if info.size_bytes:
        lines.append(f"size_bytes = {info.size_bytes}")
    lines.append("")
    shown = (label or info.name).replace('"', "'")
    if info.folder == "checkpoints":
        lines += ["[catalogue.checkpoints]", f'"{info.file_name}" = "{info.family or "sdxl"}"']
        lines.append(f'# and add "{info.file_name}" to [image] models')
    elif info.folder == "loras":
        words = ", ".join(f'"{w}"' for w in info.trigger_words)
        lines += [
            f'[catalogue.loras."{info.file_name}"]',
            f'family = "{info.family or "sdxl"}"',
            f'label = "{shown}"',
            f"triggers = [{words}]",
        ]
    else:
        factor = re.search(r"([1-8])x|x([1-8])", info.file_name, re.IGNORECASE)
        scale = next((g for g in factor.groups() if g), "4") if factor else "4"
        lines += [
            f'[catalogue.upscalers."{info.file_name}"]',
            f'label = "{shown}"',
            f"scale = {scale}",
        ]
    return "\n".join(lines) + "\n"
