"""The metadata endpoints of Civitai and Hugging Face that adding a model reads, in their
real response shapes.

Civitai `GET /api/v1/model-versions/{id}`: the version (`id`, `modelId`, `name`, `baseModel`,
`trainedWords`, `downloadUrl`), its `model` (`name`, `type` such as "Checkpoint", "LORA",
"Upscaler", `nsfw`, `poi`) and `files` (`name`, `sizeKB`, `type`, `primary`, `hashes` with an
upper-case `SHA256`, `downloadUrl`); an unknown id answers 404 `{"error": "No model version
with id N"}`. Hugging Face `GET /api/models/{repo}/revision/{rev}?blobs=true`: `id`, `tags`,
`cardData`, and `siblings` (`rfilename`, `size`, `lfs.sha256`, `lfs.size`); an unknown repo
answers 401 `{"error": "Repository not found"}`, as the real Hub does for anonymous callers.
A bearer token is required when the state names one (`/_sim/...` is not part of either API).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

CIVITAI_DOWNLOAD = "https://civitai.com/api/download/models/{id}"


@dataclass(frozen=True)
class HubVersion:
    """One Civitai model version with a single primary file."""

    version_id: int
    model_id: int
    model_name: str
    model_type: str
    base_model: str
    file_name: str
    size_bytes: int
    trained_words: tuple[str, ...] = ()
    nsfw: bool = False

    @property
    def sha256(self) -> str:
        """The file's stand-in digest (stable for a version)."""
        return hashlib.sha256(f"civitai:{self.version_id}".encode()).hexdigest()


@dataclass(frozen=True)
class HubFile:
    """One file of a Hugging Face repository (an LFS file when it has a sha256)."""

    path: str
    size_bytes: int
    sha256: str | None = None


@dataclass
class HubState:
    """What the stand-in serves: Civitai versions by id, Hugging Face repos with tags and
    files, and the token each API wants (None: anonymous calls allowed)."""

    versions: dict[int, HubVersion] = field(default_factory=dict)
    repos: dict[str, tuple[list[str], list[HubFile]]] = field(default_factory=dict)
    civitai_token: str | None = None
    hf_token: str | None = None


def _authorised(request: Request, token: str | None) -> bool:
    return token is None or request.headers.get("authorization") == f"Bearer {token}"


def _version_body(version: HubVersion) -> dict[str, Any]:
    download = CIVITAI_DOWNLOAD.format(id=version.version_id)
    return {
        "id": version.version_id,
        "modelId": version.model_id,
        "name": "v1.0",
        "description": None,
        "baseModel": version.base_model,
        "baseModelType": "Standard",
        "status": "Published",
        "availability": "Public",
        "trainedWords": list(version.trained_words),
        "stats": {"downloadCount": 1000, "thumbsUpCount": 100, "thumbsDownCount": 1},
        "model": {
            "name": version.model_name,
            "type": version.model_type,
            "nsfw": version.nsfw,
            "poi": False,
        },
        "files": [
            {
                "id": version.version_id * 10,
                "sizeKB": version.size_bytes / 1024,
                "name": version.file_name,
                "type": "Model",
                "primary": True,
                "metadata": {"format": "SafeTensor", "fp": "fp16", "size": "pruned"},
                "hashes": {"SHA256": version.sha256.upper(), "AutoV2": version.sha256[:10].upper()},
                "downloadUrl": download,
            }
        ],
        "images": [],
        "downloadUrl": download,
    }


async def civitai_version(request: Request) -> JSONResponse:
    """`GET /api/v1/model-versions/{id}`."""
    state: HubState = request.app.state.hub
    if not _authorised(request, state.civitai_token):
        return JSONResponse({"error": "Unauthorized"}, status_code=401)
    raw = request.path_params["version_id"]
    version = state.versions.get(int(raw)) if raw.isdigit() else None
    if version is None:
        return JSONResponse({"error": f"No model version with id {raw}"}, status_code=404)
    return JSONResponse(_version_body(version))


async def hf_revision(request: Request) -> JSONResponse:
    """`GET /api/models/{owner}/{name}/revision/{revision}` (with `?blobs=true`: sizes and
    LFS digests)."""
    state: HubState = request.app.state.hub
    repo = f"{request.path_params['owner']}/{request.path_params['name']}"
    found = state.repos.get(repo)
    if found is None or not _authorised(request, state.hf_token):
        return JSONResponse({"error": "Repository not found"}, status_code=401)
    tags, files = found
    blobs = request.query_params.get("blobs") == "true"
    siblings = []
    for item in files:
        entry: dict[str, Any] = {"rfilename": item.path}
        if blobs:
            entry["size"] = item.size_bytes
            if item.sha256 is not None:
                entry["lfs"] = {"sha256": item.sha256, "size": item.size_bytes, "pointerSize": 135}
        siblings.append(entry)
    base = next((t.split(":", 1)[1] for t in tags if t.startswith("base_model:")), None)
    return JSONResponse(
        {
            "id": repo,
            "modelId": repo,
            "sha": hashlib.sha1(repo.encode()).hexdigest(),
            "private": False,
            "gated": False,
            "tags": tags,
            "cardData": {"base_model": base} if base else {},
            "siblings": siblings,
        }
    )


def create_app(state: HubState | None = None) -> Starlette:
    """The stand-in as an ASGI app; `app.state.hub` is its HubState."""
    app = Starlette(
        routes=[
            Route("/api/v1/model-versions/{version_id}", civitai_version),
            Route("/api/models/{owner}/{name}/revision/{revision}", hf_revision),
        ]
    )
    app.state.hub = state or HubState()
    return app
