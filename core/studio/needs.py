"""Which model files a job loads, so it goes only to an instance that has them all.

An instance takes jobs once a first image's files are verified while the others still
download (`GpuInstance.models_pending`); a job is matched by the downloads its own graph
would load, found by building that graph (the builders are the one truth of which loader
reads which file) and reading the file names its nodes' inputs name.
"""

from __future__ import annotations

import logging

from core.comfy.events import json_object
from core.comfy.presets import Presets
from core.comfy.tools import Tools
from core.comfy.workflows import GenerationRequest, Graph, build_graph
from core.errors import CoreError, GraphInvalid
from core.models import GenerationJob
from core.studio.compose import DEFAULT_REFERENCE_WEIGHT

log = logging.getLogger(__name__)


def request_of(
    job: GenerationJob, *, tools: Tools, reference_images: tuple[str, ...]
) -> GenerationRequest:
    """The generation `job` asks for, with its images named as given (uploads on an instance)."""
    return GenerationRequest(
        tools=tools,
        positive=job.prompt,
        negative=job.negative_prompt,
        model=job.model,
        preset=job.preset,
        seed=job.seed,
        batch_size=job.batch_size,
        kind=job.kind.value,
        reference_images=reference_images,
        reference_weight=float(job.request.get("reference_weight", DEFAULT_REFERENCE_WEIGHT)),
        reference_preset=str(job.request.get("reference_preset") or ""),
    )


def job_files(job: GenerationJob, presets: Presets) -> frozenset[str]:
    """The downloads (`folder/file`) `job`'s graph loads; every download when the graph
    cannot be built (the job then waits for a fully provisioned instance, and fails there
    with its own message)."""
    downloads = presets.downloads()
    # A loader names a file by its path inside its models folder (`bbox/face_yolov8m.pt`).
    by_name = {path.partition("/")[2]: path for path in downloads}
    tools = Tools.from_json(job.request.get("tools"))
    images = tuple(str(sha) for sha in job.request.get("reference_images", []))
    try:
        graph = build_graph(request_of(job, tools=tools, reference_images=images), presets)
    except (CoreError, ValueError, KeyError) as exc:
        log.info("studio.needs_unknown", extra={"job_id": job.id, "error": str(exc)})
        return frozenset(downloads)
    return frozenset(
        by_name[value]
        for node in graph.values()
        for value in node.get("inputs", {}).values()
        if isinstance(value, str) and value in by_name
    )


def lacking(refusal: GraphInvalid, graph: Graph, presets: Presets) -> frozenset[str]:
    """The downloads (`folder/file`) ComfyUI's `refusal` of `graph` says its server lacks: a
    `value_not_in_list` on an input naming a download's file (an instance started before the
    file was added to the catalogue, not yet asked for it)."""
    by_name = {path.rpartition("/")[2]: path for path in presets.downloads()}
    missing = set()
    for node_id, detail in refusal.node_errors.items():
        inputs = json_object(graph.get(node_id, {}).get("inputs"))
        for item in json_object(detail).get("errors") or []:
            item = json_object(item)
            name = str(json_object(item.get("extra_info")).get("input_name"))
            value = inputs.get(name) if item.get("type") == "value_not_in_list" else None
            if isinstance(value, str) and value in by_name:
                missing.add(by_name[value])
    return frozenset(missing)
