"""The settings reader on each tool's metadata format, built from the formats' documented
shapes (and, for ComfyUI, from the simulator's files of graphs our real builder makes)."""

from __future__ import annotations

import io
import json
import struct
import zlib

import pytest
from PIL import Image, PngImagePlugin

from core.comfy.presets import Presets
from core.comfy.tools import Tools
from core.comfy.workflows import GenerationRequest, build_graph
from core.errors import ValidationFailed
from core.gallery import store
from core.studio import metadata
from core.studio.needs import request_of
from core.studio.reader import MAX_NODES, MAX_TEXT, read_settings
from sim.comfy import render
from testing.factories import unsaved_job


def png_with(texts: dict[str, str], *, compressed: bool = False) -> bytes:
    info = PngImagePlugin.PngInfo()
    for key, value in texts.items():
        if compressed:
            info.add_itxt(key, value, zip=True)
        else:
            info.add_text(key, value)
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (40, 60, 80)).save(out, format="PNG", pnginfo=info)
    return out.getvalue()


A1111_PARAMETERS = (
    "a lighthouse on a cliff at dusk, <lora:film_grain:0.7>\n"
    "oil painting\n"
    "Negative prompt: blurry, lowres\n"
    "watermark\n"
    "Steps: 28, Sampler: DPM++ 2M, Schedule type: Karras, CFG scale: 6.5, Seed: 1234567890, "
    "Size: 832x1216, Model hash: 31e35c80fc, Model: sdxl_base, Denoising strength: 0.45, "
    'Hires upscale: 1.5, Lora hashes: "film_grain: a1b2, other: c3d4", Version: v1.9.4'
)


def test_automatic1111_parameters_are_read_and_what_cannot_be_loaded_is_named():
    settings = read_settings(png_with({"parameters": A1111_PARAMETERS}))

    assert settings.source == "AUTOMATIC1111"
    assert settings.prompt == "a lighthouse on a cliff at dusk,\noil painting"
    assert settings.negative_prompt == "blurry, lowres\nwatermark"
    assert (settings.steps, settings.cfg, settings.seed) == (28, 6.5, 1234567890)
    assert (settings.sampler, settings.scheduler) == ("dpmpp_2m", "karras")
    assert (settings.width, settings.height) == (832, 1216)
    assert settings.model == "sdxl_base"
    assert settings.denoise == 0.45
    assert settings.loras == (("film_grain", 0.7),)
    assert settings.unsupported == ("Hires upscale",)


def test_an_old_automatic1111_label_carries_its_schedule_and_an_unknown_sampler_is_named():
    old = "a harbour\nSteps: 20, Sampler: DPM++ 2M Karras, CFG scale: 7, Seed: 1, Size: 512x512"
    assert (read_settings(png_with({"parameters": old})).sampler, "karras") == (
        "dpmpp_2m",
        read_settings(png_with({"parameters": old})).scheduler,
    )
    odd = "a harbour\nSteps: 20, Sampler: Restart, CFG scale: 7, Seed: 1"
    settings = read_settings(png_with({"parameters": odd}))
    assert settings.sampler is None and "Sampler: Restart" in settings.unsupported


def test_comfyui_sampler_names_written_as_they_are_are_read():
    text = "a pier\nSteps: 9, Sampler: dpmpp_2m_sde_gpu, Schedule type: kl_optimal, Seed: 3"
    settings = read_settings(png_with({"parameters": text}))
    assert (settings.sampler, settings.scheduler) == ("dpmpp_2m_sde_gpu", "kl_optimal")
    assert settings.unsupported == ()


def test_a_prompt_without_a_settings_line_is_all_prompt():
    settings = read_settings(png_with({"parameters": "just words, Steps are not here"}))
    assert settings.prompt == "just words, Steps are not here" and settings.steps is None


def test_the_studios_own_png_reads_back_as_the_job_that_made_it():
    presets = Presets.load()
    job = unsaved_job(presets, prompt="a red bicycle by a canal", seed=4242)
    graph = build_graph(request_of(job, tools=Tools(), reference_images=()), presets)
    picture = render.png((64, 64), job.seed, graph, job.prompt)
    data = store.embed_png_metadata(picture, metadata.generation_metadata(job, presets, graph, 0))

    settings = read_settings(data)

    preset = presets.preset("medium", "image")
    assert settings.source == "AI KINGS"
    assert (settings.prompt, settings.negative_prompt) == (job.prompt, job.negative_prompt)
    assert (settings.seed, settings.model) == (job.seed, job.model)
    assert (settings.steps, settings.cfg) == (preset.steps, preset.cfg)
    assert (settings.sampler, settings.scheduler) == (preset.sampler_name, preset.scheduler)
    assert (settings.width, settings.height) == (preset.width, preset.height)


def built_graph(kind: str = "image", preset: str = "medium") -> dict:
    presets = Presets.load()
    request = GenerationRequest(
        positive="a quiet library with tall windows",
        negative="text, watermark",
        model=presets.default_model(kind),
        preset=preset if kind == "image" else presets.names("video")[0],
        seed=987654321,
        kind=kind,
    )
    return build_graph(request, presets)


def test_a_comfyui_png_gives_the_graphs_sampler_prompts_model_and_size():
    graph = built_graph()
    settings = read_settings(render.png((64, 64), 1, graph, "x"))

    presets = Presets.load()
    preset = presets.preset("medium", "image")
    assert settings.source == "ComfyUI"
    assert settings.prompt == "a quiet library with tall windows"
    assert settings.negative_prompt == "text, watermark"
    assert settings.seed == 987654321
    assert (settings.steps, settings.cfg, settings.sampler) == (
        preset.steps,
        preset.cfg,
        preset.sampler_name,
    )
    assert settings.model == presets.default_model("image")
    assert (settings.width, settings.height) == (preset.width, preset.height)
    assert settings.unsupported == ()


def test_a_long_prompt_encoded_in_chunks_reads_back_whole():
    presets = Presets.load()
    long = ", ".join(f"detail number {n} in soft light" for n in range(30))
    request = GenerationRequest(long, "text", presets.default_model("image"), "medium", 5)
    graph = build_graph(request, presets)
    assert "ConditioningConcat" in {node["class_type"] for node in graph.values()}
    settings = read_settings(render.png((64, 64), 1, graph, "x"))
    assert settings.prompt == long and settings.unsupported == ()


def test_a_looped_concat_chain_is_read_without_hanging():
    graph = {
        "1": {"class_type": "ConditioningConcat",
              "inputs": {"conditioning_to": ["1", 0], "conditioning_from": ["2", 0]}},
        "2": {"class_type": "CLIPTextEncode", "inputs": {"text": "a bridge"}},
        "3": {"class_type": "KSampler", "inputs": {"positive": ["1", 0], "steps": 4}},
    }  # fmt: skip
    settings = read_settings(png_with({"prompt": json.dumps(graph)}))
    assert settings.steps == 4 and settings.prompt.startswith("a bridge, a bridge")


def test_a_comfyui_animated_webp_is_read_from_its_exif():
    graph = built_graph("video")
    settings = read_settings(render.animated_webp((32, 32), 1, graph, frames=3, fps=8))
    assert settings.source == "ComfyUI" and settings.prompt == "a quiet library with tall windows"
    assert settings.seed == 987654321 and settings.width is not None


def box(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", 8 + len(body)) + kind + body


def mp4_with(items: dict[str, str]) -> bytes:
    """An MP4 with QuickTime `mdta` metadata as ffmpeg writes it with
    `movflags=use_metadata_tags` (how ComfyUI's SaveVideo stores `prompt`)."""
    keys = b"".join(box(b"mdta", key.encode()) for key in items)
    keys_box = box(b"keys", b"\0\0\0\0" + struct.pack(">I", len(items)) + keys)
    ilst = b"".join(
        box(struct.pack(">I", index), box(b"data", struct.pack(">II", 1, 0) + value.encode()))
        for index, value in enumerate(items.values(), start=1)
    )
    hdlr = box(b"hdlr", b"\0" * 8 + b"mdta" + b"\0" * 13)
    meta = box(b"meta", b"\0\0\0\0" + hdlr + keys_box + box(b"ilst", ilst))
    moov = box(b"moov", box(b"mvhd", b"\0" * 100) + box(b"udta", meta))
    return box(b"ftyp", b"isom\0\0\2\0isomiso2mp41") + moov + box(b"mdat", b"\0" * 16)


def test_a_comfyui_mp4_is_read_from_its_metadata_items():
    graph = built_graph("video")
    data = mp4_with({"workflow": "{}", "prompt": json.dumps(graph)})
    settings = read_settings(data)
    assert settings.source == "ComfyUI" and settings.negative_prompt == "text, watermark"


def test_fooocus_json_parameters_are_read():
    fields = {
        "prompt": "a mountain lake at sunrise",
        "negative_prompt": "haze",
        "styles": "['Fooocus V2']",
        "performance": "Speed",
        "steps": 30,
        "resolution": "(1152, 896)",
        "guidance_scale": 4,
        "sharpness": 2,
        "sampler": "dpmpp_2m_sde_gpu",
        "scheduler": "karras",
        "seed": "5551212",
        "base_model": "juggernautXL_v8Rundiffusion.safetensors",
        "lora_combined_1": "sd_xl_offset_example-lora_1.0.safetensors : 0.1",
        "lora_combined_2": "True : detail.safetensors : 0.5",
        "version": "Fooocus v2.5.5",
        "metadata_scheme": "fooocus",
    }
    data = png_with({"parameters": json.dumps(fields), "fooocus_scheme": "fooocus"})

    settings = read_settings(data)

    assert settings.source == "Fooocus" and settings.prompt == "a mountain lake at sunrise"
    assert (settings.width, settings.height, settings.seed) == (1152, 896, 5551212)
    assert (settings.cfg, settings.sampler, settings.steps) == (4.0, "dpmpp_2m_sde_gpu", 30)
    assert settings.loras == (
        ("sd_xl_offset_example-lora_1.0.safetensors", 0.1),
        ("detail.safetensors", 0.5),
    )
    assert set(settings.unsupported) == {"Styles", "Performance", "Sharpness"}


def test_compressed_text_chunks_are_read_too():
    settings = read_settings(png_with({"parameters": A1111_PARAMETERS}, compressed=True))
    assert settings.seed == 1234567890


def test_a_graph_with_loras_and_a_wired_seed_names_the_wiring():
    graph = {
        "1": {"class_type": "CheckpointLoaderSimple", "inputs": {"ckpt_name": "base.safetensors"}},
        "2": {
            "class_type": "LoraLoader",
            "inputs": {"model": ["1", 0], "clip": ["1", 1], "lora_name": "a.safetensors",
                       "strength_model": 0.8, "strength_clip": 0.8},
        },
        "3": {"class_type": "CLIPTextEncode", "inputs": {"clip": ["2", 1], "text": "a bridge"}},
        "4": {"class_type": "PrimitiveNode", "inputs": {"value": 7}},
        "5": {
            "class_type": "KSampler",
            "inputs": {"model": ["2", 0], "positive": ["3", 0], "negative": ["3", 0],
                       "seed": ["4", 0], "steps": 20, "cfg": 7, "sampler_name": "euler",
                       "scheduler": "normal", "denoise": 1, "latent_image": ["9", 0]},
        },
    }  # fmt: skip
    settings = read_settings(png_with({"prompt": json.dumps(graph)}))
    assert settings.model == "base.safetensors" and settings.loras == (("a.safetensors", 0.8),)
    assert settings.seed is None and settings.prompt == "a bridge"
    assert "seed wired from another node" in settings.unsupported
    assert "ComfyUI node PrimitiveNode" in settings.unsupported


def test_a_graph_that_loops_is_read_without_hanging():
    graph = {
        "1": {"class_type": "LoraLoader", "inputs": {"model": ["2", 0], "lora_name": "x",
                                                      "strength_model": 1}},
        "2": {"class_type": "LoraLoader", "inputs": {"model": ["1", 0], "lora_name": "y",
                                                      "strength_model": 1}},
        "3": {"class_type": "KSampler", "inputs": {"model": ["1", 0], "steps": 4}},
    }  # fmt: skip
    settings = read_settings(png_with({"prompt": json.dumps(graph)}))
    assert settings.steps == 4 and settings.model is None


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GIF89a" + b"\0" * 20, "Only PNG, WebP and MP4"),
        (png_with({}), "no generation settings"),
        (png_with({"Software": "an editor"}), "no generation settings"),
        (png_with({"parameters": A1111_PARAMETERS})[:60], "truncated"),
        (png_with({"prompt": "{not json"}), "not valid JSON"),
        (png_with({"prompt": "[1, 2]"}), "not a JSON object"),
        (png_with({"prompt": '{"a": ' + deep(200_000) + "}"}), "JSON"),
        (png_with({"prompt": '{"a": ' + deep(100) + "}"}), "nested too deeply"),
        (png_with({"prompt": '{"1": {"inputs": {"steps": NaN}}}'}), "not valid JSON"),
        (png_with({"prompt": '{"1": {"class_type": "KSampler", "inputs": 5}}'}), "not a ComfyUI"),
        (png_with({"parameters": "x\nSteps: 20, Seed: " + "9" * 45}), "not a whole number"),
        (png_with({"parameters": f"x\nSteps: 20, Seed: {2**70}"}), "seed is outside"),
        (png_with({"parameters": "x\nSteps: twenty, Seed: 1"}), "Steps setting"),
        (png_with({"parameters": "x\nSteps: 20, CFG scale: inf"}), "not a number"),
        (png_with({"parameters": "x\nSteps: 20, Size: huge"}), "not W×H"),
        (
            png_with(
                {
                    "prompt": json.dumps(
                        {"1": {"class_type": "KSampler", "inputs": {"steps": {"a": 1}}}}
                    )
                }
            ),
            "not a whole number",
        ),
        (
            png_with(
                {"prompt": json.dumps({str(i): {"inputs": {}} for i in range(MAX_NODES + 1)})}
            ),
            "more than",
        ),
        (png_with({"parameters": "x" * (MAX_TEXT + 1)}), "larger than"),
        (b"RIFF\x20\0\0\0WEBPEXIF\xff\0\0\0", "truncated"),
        # FFmpeg reads past a moov cut short, finding no metadata in it
        (b"\0\0\0\x18ftypisom" + b"\0" * 12 + b"\0\0\0\x30moov", "no generation settings"),
        (b"\0\0\0\x18ftypisom" + b"\0" * 12, "MP4 file is damaged"),
        (mp4_with({"prompt": "x" * (MAX_TEXT + 1)}), "larger than"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_hostile_or_malformed_metadata_is_refused_with_a_message(data, message):
    with pytest.raises(ValidationFailed, match=message):
        read_settings(data)


def test_a_decompression_bomb_in_a_text_chunk_is_refused_without_inflating_it():
    bomb = zlib.compress(b"a" * (64 * 1024 * 1024), 9)  # 64 MB of text in ~64 KB
    body = b"parameters\0\0" + bomb
    chunk = (
        struct.pack(">I", len(body))
        + b"zTXt"
        + body
        + struct.pack(">I", zlib.crc32(b"zTXt" + body))
    )
    clean = png_with({})
    data = clean[:33] + chunk + clean[33:]
    with pytest.raises(ValidationFailed, match="larger than"):
        read_settings(data)
