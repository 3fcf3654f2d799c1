"""Adding a model from Civitai or Hugging Face: our client reads the metadata stand-in over
HTTP (real response shapes), and the presets lines it writes make the model usable."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from typing import Any

import pytest

from core.comfy.presets import DEFAULT_PATH, Presets
from core.errors import NotFound, ValidationFailed
from core.hub import HubClient, catalogue_toml
from sim.hub import HubFile, HubState, HubVersion, create_app
from sim.server import ServerThread

LORA = HubVersion(
    version_id=2514310,
    model_id=827184,
    model_name="Film Grain",
    model_type="LORA",
    base_model="SDXL 1.0",
    file_name="film_grain_xl.safetensors",
    size_bytes=228_456_000,
    trained_words=("film grain", "35mm"),
)
PONY = HubVersion(
    11, 1, "Pony Diffusion V6 XL", "Checkpoint", "Pony", "ponyV6.safetensors", 6_938_000_000
)
EMBEDDING = HubVersion(12, 2, "Bad hands", "TextualInversion", "SD 1.5", "bad.pt", 25_000)
REPO = "acme/upscalers"
HF_FILE = HubFile("models/4x_acme.pth", 67_000_000, "ab" * 32)


@pytest.fixture(scope="module")
def hub() -> Iterator[tuple[HubClient, HubState]]:
    state = HubState(
        versions={v.version_id: v for v in (LORA, PONY, EMBEDDING)},
        repos={
            REPO: (["pytorch", "base_model:none"], [HF_FILE]),
            "acme/xl-lora": (
                ["lora", "base_model:stabilityai/stable-diffusion-xl-base-1.0"],
                [HubFile("style.safetensors", 1000, "cd" * 32)],
            ),
        },
        civitai_token="civ-token",
    )
    with ServerThread(create_app(state)) as server:
        with HubClient(
            civitai_url=server.url, huggingface_url=server.url, civitai_token="civ-token"
        ) as client:
            yield client, state


def resolve(repo: str, path: str) -> str:
    return f"https://huggingface.co/{repo}/resolve/main/{path}"


def test_a_civitai_lora_version_gives_file_hash_size_family_and_trigger_words(hub) -> None:
    client, _ = hub
    info = client.civitai_version(LORA.version_id)
    assert (info.folder, info.family, info.file_name) == ("loras", "sdxl", LORA.file_name)
    assert info.sha256 == LORA.sha256 and info.size_bytes == LORA.size_bytes
    assert info.trigger_words == ("film grain", "35mm")
    assert info.download_url == "https://civitai.com/api/download/models/2514310"


def test_a_civitai_checkpoint_maps_its_base_model_to_our_family(hub) -> None:
    client, _ = hub
    info = client.civitai_version(PONY.version_id)
    assert (info.folder, info.family, info.base_model) == ("checkpoints", "pony", "Pony")


def test_an_unknown_version_or_an_unsupported_type_is_refused(hub) -> None:
    client, _ = hub
    with pytest.raises(NotFound):
        client.civitai_version(999)
    with pytest.raises(ValidationFailed, match="TextualInversion"):
        client.civitai_version(EMBEDDING.version_id)


def test_civitai_without_the_token_is_not_found() -> None:
    state = HubState(versions={LORA.version_id: LORA}, civitai_token="civ-token")
    with ServerThread(create_app(state)) as server, HubClient(civitai_url=server.url) as client:
        with pytest.raises(NotFound, match="token"):
            client.civitai_version(LORA.version_id)


def test_a_hugging_face_file_gives_its_lfs_sha256_and_size(hub) -> None:
    client, _ = hub
    info = client.hf_file(resolve(REPO, HF_FILE.path))
    assert (info.folder, info.file_name, info.size_bytes) == (
        "upscale_models",
        "4x_acme.pth",
        HF_FILE.size_bytes,
    )
    assert info.sha256 == HF_FILE.sha256
    lora = client.hf_file(resolve("acme/xl-lora", "style.safetensors"))
    assert (lora.folder, lora.family) == ("loras", "sdxl")


def test_a_bad_link_a_missing_repo_or_file_is_refused(hub) -> None:
    client, _ = hub
    with pytest.raises(ValidationFailed, match="resolve/main"):
        client.hf_file("https://example.test/model.safetensors")
    with pytest.raises(NotFound):
        client.hf_file(resolve("acme/missing", "x.safetensors"))
    with pytest.raises(NotFound, match="no file"):
        client.hf_file(resolve(REPO, "other.pth"))


def _merged(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        out[key] = _merged(out[key], value) if isinstance(value, dict) and key in out else value
    return out


def test_the_presets_lines_make_the_lora_offered_and_its_file_pinned(hub) -> None:
    client, _ = hub
    info = client.civitai_version(LORA.version_id)
    raw = _merged(
        tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8")), tomllib.loads(catalogue_toml(info))
    )
    presets = Presets.from_mapping(raw)
    (offered,) = [
        lora
        for lora in presets.catalogue.loras_for("sdxl_base_1.0.safetensors")
        if lora.name == LORA.file_name
    ]
    assert offered.triggers == LORA.trained_words
    pinned = presets.downloads()[f"loras/{LORA.file_name}"]
    assert (pinned.sha256, pinned.size_bytes) == (LORA.sha256, LORA.size_bytes)
    assert LORA.file_name in presets.required_models()["loras"]
    upscaler = tomllib.loads(catalogue_toml(client.hf_file(resolve(REPO, HF_FILE.path))))
    assert upscaler["catalogue"]["upscalers"]["4x_acme.pth"]["scale"] == 4
