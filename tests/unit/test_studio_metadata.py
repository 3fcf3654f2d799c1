"""PNG metadata of a generated picture: A1111 `parameters`, ComfyUI `prompt` and `workflow`."""

import json

import pytest

from core.comfy.presets import Presets
from core.comfy.workflows import GenerationRequest, build_graph
from core.studio.metadata import EXTRA_WIDGETS, WIDGET_ORDER, editor_workflow, generation_metadata
from testing.factories import unsaved_job

PRESETS = Presets.load()


def graph_for(kind="image", references=()):
    model = PRESETS.default_model(kind)
    return build_graph(
        GenerationRequest(
            positive="a lighthouse at dusk",
            negative="blurry",
            model=model,
            preset="low",
            seed=41,
            batch_size=1,
            kind=kind,
            reference_images=references,
        ),
        PRESETS,
    )


SHAPES = {
    "txt2img": graph_for(),
    "references": graph_for(references=("a.png", "b.png")),
    "video": graph_for("video"),
}


@pytest.mark.parametrize("shape", SHAPES)
def test_every_api_link_is_one_editor_link_seen_from_both_ends(shape):
    graph = SHAPES[shape]
    workflow = editor_workflow(graph)
    ids = {key: index for index, key in enumerate(graph, start=1)}
    expected = sorted(
        (ids[str(value[0])], value[1], ids[key], name)
        for key, node in graph.items()
        for name, value in node["inputs"].items()
        if isinstance(value, list)
    )
    nodes = {node["id"]: node for node in workflow["nodes"]}
    found = []
    for link_id, source, slot, target, target_slot, kind in workflow["links"]:
        target_input = nodes[target]["inputs"][target_slot]
        assert target_input["link"] == link_id and target_input["type"] == kind != "*"
        assert link_id in nodes[source]["outputs"][slot]["links"]
        assert nodes[source]["outputs"][slot]["type"] == kind
        found.append((source, slot, target, target_input["name"]))
    assert sorted(found) == expected
    assert workflow["last_link_id"] == len(workflow["links"])
    assert workflow["last_node_id"] == len(graph) and workflow["version"] == 0.4


@pytest.mark.parametrize("shape", SHAPES)
def test_widget_values_are_the_api_values_in_the_editors_order(shape):
    graph = SHAPES[shape]
    for node in editor_workflow(graph)["nodes"]:
        api = graph[list(graph)[node["id"] - 1]]
        widgets = [n for n, v in api["inputs"].items() if not isinstance(v, list)]
        order = WIDGET_ORDER.get(node["type"], widgets)
        expected = []
        for name in order:
            expected.append(api["inputs"][name])
            if (node["type"], name) in EXTRA_WIDGETS:
                expected.append(EXTRA_WIDGETS[(node["type"], name)])
        assert node["widgets_values"] == expected


def test_ksampler_keeps_its_seed_fixed_and_ipadapter_uses_the_plugins_order():
    nodes = {n["type"]: n for n in editor_workflow(SHAPES["references"])["nodes"]}
    assert nodes["KSampler"]["widgets_values"][:2] == [41, "fixed"]
    assert nodes["IPAdapterAdvanced"]["widgets_values"][2:5] == ["concat", 0.0, 1.0]
    assert nodes["LoadImage"]["widgets_values"][1] == "image"


def test_metadata_carries_parameters_prompt_and_workflow():
    job = unsaved_job(PRESETS, preset="low", seed=41)
    graph = SHAPES["txt2img"]
    text = generation_metadata(job, PRESETS, graph, index=1)
    assert text["parameters"].startswith("a lighthouse at dusk\nNegative prompt: blurry\nSteps:")
    assert "Seed: 42," in text["parameters"]
    assert json.loads(text["prompt"]) == graph
    assert json.loads(text["workflow"]) == editor_workflow(graph)
