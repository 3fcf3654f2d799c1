"""The presets file: the shipped one is valid and sane, a malformed one names its problem."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest

from core.comfy.presets import DEFAULT_PATH, Presets
from core.comfy.tools import Tools
from core.comfy.workflows import offered_models
from core.config import REPO_ROOT
from core.errors import ConfigError, ValidationFailed
from core.models import MediaKind
from core.studio.compose import StudioRequest, validate

KINDS = ("image", "video")
SHIPPED_TEXT = (REPO_ROOT / "data" / "presets.toml").read_text(encoding="utf-8")
SHIPPED_RAW = tomllib.loads(SHIPPED_TEXT)


@pytest.fixture(scope="module")
def presets() -> Presets:
    return Presets.load()


def test_default_path_is_the_repo_data_file() -> None:
    assert DEFAULT_PATH == REPO_ROOT / "data" / "presets.toml"


@pytest.mark.parametrize("kind", KINDS)
def test_shipped_presets_go_from_low_to_ultra(presets: Presets, kind: str) -> None:
    assert presets.names(kind) == ["low", "medium", "high", "ultra"]


@pytest.mark.parametrize("kind", KINDS)
def test_higher_quality_is_never_expected_to_be_faster(presets: Presets, kind: str) -> None:
    seconds = [presets.preset(name, kind).expected_seconds for name in presets.names(kind)]
    assert seconds == sorted(seconds)
    assert all(s > 0 for s in seconds)


@pytest.mark.parametrize("kind", KINDS)
def test_each_preset_carries_the_values_of_its_table(presets: Presets, kind: str) -> None:
    for name, table in SHIPPED_RAW[kind]["presets"].items():
        preset = presets.preset(name, kind)
        assert (preset.name, preset.kind) == (name, kind)
        for key, value in table.items():
            assert getattr(preset, key) == value, f"{kind}.{name}.{key}"


def test_images_are_single_frames_and_videos_have_valid_lengths(presets: Presets) -> None:
    for name in presets.names("image"):
        preset = presets.preset(name, "image")
        assert (preset.length, preset.fps) == (1, None)
        assert preset.width % 8 == preset.height % 8 == 0
    for name in presets.names("video"):
        preset = presets.preset(name, "video")
        assert (preset.length - 1) % 4 == 0
        assert preset.fps is not None and preset.fps > 0
        assert preset.width % 16 == preset.height % 16 == 0


def test_models_and_defaults_come_from_the_file(presets: Presets) -> None:
    assert presets.models("image") == [
        "sdxl_base_1.0.safetensors",
        "realvis_xl_4.0.safetensors",
    ]
    assert presets.default_model("image") == "sdxl_base_1.0.safetensors"
    assert presets.models("video") == ["wan2.1_t2v_1.3B_fp16.safetensors"]
    assert presets.default_model("video") == "wan2.1_t2v_1.3B_fp16.safetensors"
    assert presets.ipadapter_model == "ip-adapter-plus_sdxl_vit-h.safetensors"
    assert presets.clip_vision_model == "CLIP-ViT-H-14-laion2B-s32B-b79K.safetensors"
    assert presets.default_negative == SHIPPED_RAW["default_negative"]
    assert presets.default_negative.strip()


def test_returned_model_lists_are_copies(presets: Presets) -> None:
    presets.models("image").append("other.safetensors")
    assert "other.safetensors" not in presets.models("image")


def test_required_models_cover_every_offered_file_by_comfy_folder(presets: Presets) -> None:
    video, image = SHIPPED_RAW["video"], SHIPPED_RAW["image"]
    assert presets.required_models() == {
        "checkpoints": set(image["models"]),
        "diffusion_models": {*video["models"], video["i2v_model"]},
        "text_encoders": {video["text_encoder"]},
        "vae": {video["vae"]},
        "ipadapter": {
            image["ipadapter_model"],
            *(
                p["ipadapter_model"]
                for p in image["reference_presets"].values()
                if "ipadapter_model" in p
            ),
        },
        "clip_vision": {image["clip_vision_model"], video["clip_vision"]},
        "loras": set(SHIPPED_RAW["catalogue"]["loras"]),
        "upscale_models": set(SHIPPED_RAW["catalogue"]["upscalers"]),
        "ultralytics": {image["face_detector"]},
    }
    assert presets.video_text_encoder == "umt5_xxl_fp8_e4m3fn_scaled.safetensors"
    assert presets.video_vae == "wan_2.1_vae.safetensors"


def test_every_required_model_has_a_download_url(presets: Presets) -> None:
    required = {
        f"{folder}/{name}" for folder, names in presets.required_models().items() for name in names
    }
    assert required <= set(presets.downloads())
    assert all(item.url.startswith("https://") for item in presets.downloads().values())
    assert "ComfyUI_IPAdapter_plus" in presets.custom_nodes()


def test_downloads_pin_sha256_and_size_where_known(presets: Presets) -> None:
    sdxl = presets.downloads()["checkpoints/sdxl_base_1.0.safetensors"]
    assert sdxl.sha256 == "31e35c80fc4829d14f90153f4c74cd59c90b779f6afe05a74cd6120b893f7e5b"
    assert sdxl.size_bytes == 6_938_078_334
    plain = {**SHIPPED_RAW, "downloads": {"vae/x.safetensors": "https://example.test/x"}}
    assert Presets.from_mapping(plain).downloads()["vae/x.safetensors"].sha256 is None


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        ({"url": "https://e.test/x", "sha256": "ABC"}, "sha256"),
        ({"url": "https://e.test/x", "size_bytes": 0}, "size_bytes"),
        ({"url": "https://e.test/x", "md5": "00"}, "md5"),
        ({"url": "http://e.test/x"}, "https"),
    ],
)
def test_a_bad_pinned_download_is_refused_naming_the_field(entry: dict, problem: str) -> None:
    raw = {**SHIPPED_RAW, "downloads": {"vae/x.safetensors": entry}}
    with pytest.raises(ConfigError, match=problem):
        Presets.from_mapping(raw)


@pytest.mark.parametrize(
    "target", ["model.safetensors", "loras/../../etc/x", "loras//x", "/loras/x", "loras/"]
)
def test_a_download_without_a_folder_or_leaving_it_is_refused(target: str) -> None:
    raw = {**SHIPPED_RAW, "downloads": {target: "https://example.test/m"}}
    with pytest.raises(ConfigError, match="folder/file"):
        Presets.from_mapping(raw)


def test_a_download_may_sit_in_a_subfolder_of_its_models_folder(presets: Presets) -> None:
    detector = presets.downloads()["ultralytics/bbox/face_yolov8m.pt"]
    assert detector.sha256 == "f02b8a23e6f12bd2c1b1f6714f66f984c728fa41ed749d033e7d6dea511ef70c"
    assert presets.face_detector == "bbox/face_yolov8m.pt"


@pytest.mark.parametrize(
    ("folder", "source", "problem"),
    [
        ("Pack", "https://github.com/o/pack", "pinned to a full commit"),
        ("Pack", "https://github.com/o/pack@main", "pinned to a full commit"),
        ("Pack", "http://github.com/o/pack@" + "a" * 40, "pinned to a full commit"),
        ("../Pack", "https://github.com/o/pack@" + "a" * 40, "not a folder name"),
        ("Pack/../..", "https://github.com/o/pack@" + "a" * 40, "not a folder name"),
    ],
)
def test_a_custom_node_pack_not_pinned_to_a_commit_is_refused(
    folder: str, source: str, problem: str
) -> None:
    raw = {**SHIPPED_RAW, "custom_nodes": {folder: source}}
    with pytest.raises(ConfigError, match=problem):
        Presets.from_mapping(raw)


def test_media_kind_enum_is_accepted_as_kind(presets: Presets) -> None:
    assert presets.preset("high", MediaKind.VIDEO) == presets.preset("high", "video")
    assert presets.models(MediaKind.IMAGE) == presets.models("image")


def test_unknown_preset_lists_the_valid_names(presets: Presets) -> None:
    with pytest.raises(ValidationFailed) as caught:
        presets.preset("extreme", "image")
    message = str(caught.value)
    assert "'extreme'" in message
    assert all(name in message for name in presets.names("image"))


@pytest.mark.parametrize(
    "call",
    [
        lambda p: p.preset("low", "audio"),
        lambda p: p.names("audio"),
        lambda p: p.models("audio"),
        lambda p: p.default_model("audio"),
    ],
)
def test_unknown_kind_is_refused(presets: Presets, call: Callable[[Presets], object]) -> None:
    with pytest.raises(ValidationFailed, match="Unknown kind 'audio'.*image, video"):
        call(presets)


def _first(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, f"fixture drift: {old!r} not in presets.toml"
        return text.replace(old, new, 1)

    return edit


def _append(extra: str) -> Callable[[str], str]:
    return lambda text: text + extra


MALFORMED = [
    ("missing field", _first("steps = 18\n", ""), "image.presets.low.steps: Field required"),
    ("wrong type", _first("steps = 18", 'steps = "18"'), "image.presets.low.steps"),
    ("bool for int", _first("steps = 18", "steps = true"), "image.presets.low.steps"),
    ("negative steps", _first("steps = 18", "steps = -1"), "image.presets.low.steps"),
    ("unknown kind", _append('\n[audio]\nmodels = ["x"]\n'), "audio: Extra inputs"),
    ("unknown key", _first("steps = 18", "steps = 18\nstepz = 3"), "image.presets.low.stepz"),
    ("fps on an image", _first("steps = 18", "steps = 18\nfps = 3"), "image.presets.low.fps"),
    ("video without fps", _first("fps = 16\n", ""), "video.presets.low.fps: Field required"),
    ("video length 4n", _first("length = 33", "length = 32"), "4n+1"),
    ("image width", _first("width = 1024", "width = 1020"), "image.presets.low.width"),
    ("video width", _first("width = 512", "width = 520"), "video.presets.low.width"),
    (
        "default not offered",
        _first('default_model = "sdxl_base_1.0.safetensors"', 'default_model = "x.safetensors"'),
        "'x.safetensors' is not in models",
    ),
    ("no models", _first('models = ["wan2.1_t2v_1.3B_fp16.safetensors"]', "models = []"), "video"),
    ("no vae", _first('vae = "wan_2.1_vae.safetensors"\n', ""), "video.vae: Field required"),
    (
        "i2v model without its clip vision",
        _first('clip_vision = "clip_vision_h.safetensors"\n', ""),
        "needs both i2v_model and clip_vision",
    ),
    ("no presets", lambda text: text.split("[image.presets.low]")[0], "image.presets"),
    ("invalid toml", _append("\nsteps = = 3\n"), "not valid TOML"),
    ("duplicate table", _append("\n[image.presets.low]\nsteps = 3\n"), "not valid TOML"),
]


@pytest.mark.parametrize(
    ("edit", "fragment"), [(e, f) for _, e, f in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_file_raises_config_error_naming_the_problem(
    tmp_path: Path, edit: Callable[[str], str], fragment: str
) -> None:
    path = tmp_path / "presets.toml"
    path.write_text(edit(SHIPPED_TEXT), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        Presets.load(path)
    assert str(path) in str(caught.value)
    assert fragment in str(caught.value)


def test_missing_kind_section_is_a_config_error() -> None:
    raw = {key: value for key, value in SHIPPED_RAW.items() if key != "video"}
    with pytest.raises(ConfigError, match="video: Field required"):
        Presets.from_mapping(raw)


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "absent.toml"
    with pytest.raises(ConfigError, match="cannot read presets"):
        Presets.load(path)


def test_an_edited_file_changes_what_is_offered(tmp_path: Path) -> None:
    path = tmp_path / "presets.toml"
    edited = _first('models = ["sdxl_base_1.0.safetensors", ', 'models = ["mine.safetensors", ')
    path.write_text(
        _first("[image.presets.low]\nsteps = 18", "[image.presets.low]\nsteps = 7")(
            edited(SHIPPED_TEXT)
        ),
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="is not in models"):
        Presets.load(path)
    path.write_text(
        _first('default_model = "sdxl_base_1.0.safetensors"', 'default_model = "mine.safetensors"')(
            path.read_text(encoding="utf-8")
        ),
        encoding="utf-8",
    )
    presets = Presets.load(path)
    assert presets.default_model("image") == "mine.safetensors"
    assert presets.preset("low", "image").steps == 7
    assert "mine.safetensors" in presets.required_models()["checkpoints"]


def test_presets_without_image_to_video_offer_text_to_video_only() -> None:
    raw = tomllib.loads(SHIPPED_TEXT)
    i2v_model = raw["video"].pop("i2v_model")
    clip_vision = raw["video"].pop("clip_vision")
    presets = Presets.from_mapping(raw)
    assert (presets.i2v_model, presets.i2v_clip_vision) == (None, None)
    required = presets.required_models()
    assert i2v_model not in required["diffusion_models"]
    assert clip_vision not in required["clip_vision"]
    assert offered_models(presets, "video", "img2video") == []
    assert offered_models(presets, "video", "txt2img") == presets.models("video")
    animate = StudioRequest(
        prompt="x",
        kind=MediaKind.VIDEO,
        preset="low",
        tools=Tools(mode="img2video", source="a" * 64),
    )
    with pytest.raises(ValidationFailed, match="Image-to-video is not offered"):
        validate(animate, presets)
