"""`POST /prompt` validation as ComfyUI's `execution.validate_prompt` does it, on the real facts.

The checks, in the real server's order: every node names a class (`invalid_prompt`), the graph
has an output node (`prompt_no_outputs`), then from each output node backwards every required
input is present, links are `[node id, slot]` pairs to an output of a compatible type, values
convert to their declared type (numeric strings become numbers, in the graph itself), lie
within `min`/`max`, and enum values are in their list (`value_not_in_list`). Python's own
exceptions are what the real server reports for a link to a missing node or slot (`KeyError`,
`IndexError`), so this module lets the same lookups raise them: a bad link inside an upstream
node is reported on that node as `exception_during_inner_validation`, naming the input of
the node downstream that led there; in an output node itself it is
`exception_during_validation`. The top-level `details` lists only the output nodes' own
errors, so it is "" when the failure is upstream, as on the real server.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sim.comfy.schema import UPLOAD_INPUTS, InputSpec, NodeClass, classes, kind_on_server

LIST_SHOWN_MAX = 20
"""Enum lists longer than this are summarised ("(list of length N)"), as ComfyUI does."""
TRACEBACK = [
    '  File "/workspace/ComfyUI/execution.py", line 878, in validate_inputs\n'
    "    o_class_type = prompt[o_id]['class_type']\n"
]
"""An illustrative frame: the real server sends its own `traceback.format_tb`."""


class ServerCrash(Exception):
    """The body makes the real server raise outside its validation: it answers HTTP 500."""


@dataclass(frozen=True)
class Verdict:
    """Validation's answer: `error` when refused, the per-node errors, the outputs to run."""

    error: dict[str, Any] | None
    node_errors: dict[str, Any]
    outputs: list[str]


def top_error(kind: str, message: str, details: str = "") -> dict[str, Any]:
    """A top-level `error` object in ComfyUI's shape."""
    return {"type": kind, "message": message, "details": details, "extra_info": {}}


def validate_prompt(
    prompt: Any, *, installed: Mapping[str, list[str]], uploads: Collection[str]
) -> Verdict:
    """Validate `prompt` (converting value inputs in place); raises ServerCrash for a body the
    real server does not survive."""
    if not isinstance(prompt, dict):
        if isinstance(prompt, list | str) and not prompt:
            return Verdict(top_error("prompt_no_outputs", "Prompt has no outputs"), {}, [])
        raise ServerCrash(f"'{type(prompt).__name__}' prompt")
    known = classes()
    outputs: list[str] = []
    for node_id, node in prompt.items():
        if not isinstance(node, dict | list | str):
            raise ServerCrash(f"argument of type '{type(node).__name__}' is not iterable")
        if not isinstance(node, dict) or "class_type" not in node:
            return _refused_node(
                "Cannot execute because a node is missing the class_type property.", node_id
            )
        class_type = node["class_type"]
        try:
            node_class = known.get(class_type)
        except TypeError as exc:  # an unhashable class_type: the real lookup raises too
            raise ServerCrash(str(exc)) from None
        if node_class is None:
            return _refused_node(
                f"Cannot execute because node {class_type} does not exist.", node_id
            )
        if node_class.output_node:
            outputs.append(node_id)
    if not outputs:
        return Verdict(top_error("prompt_no_outputs", "Prompt has no outputs"), {}, [])
    return _validate_outputs(_Context(prompt, known, installed, uploads), outputs)


def _refused_node(message: str, node_id: str) -> Verdict:
    return Verdict(top_error("invalid_prompt", message, f"Node ID '#{node_id}'"), {}, [])


@dataclass
class _Context:
    prompt: dict[str, Any]
    known: dict[str, NodeClass]
    installed: Mapping[str, list[str]]
    uploads: Collection[str]
    validated: dict[str, tuple[bool, list[dict[str, Any]]]] = field(default_factory=dict)


def _validate_outputs(ctx: _Context, outputs: list[str]) -> Verdict:
    good: list[str] = []
    failed: list[tuple[str, list[dict[str, Any]]]] = []
    node_errors: dict[str, Any] = {}
    for output in outputs:
        try:
            valid, reasons = _validate_node(ctx, output, [])
        except Exception as exc:  # noqa: BLE001 - the real server reports any exception here
            reason = _exception(
                "exception_during_validation", "Exception when validating node", exc
            )
            valid, reasons = False, [reason]
            ctx.validated[output] = (False, reasons)
        if valid:
            good.append(output)
            continue
        failed.append((output, reasons))
        for node_id, (node_valid, node_reasons) in ctx.validated.items():
            # Nodes downstream of an error fail too, with no reasons of their own: not listed.
            if node_valid or not node_reasons:
                continue
            entry = node_errors.setdefault(
                node_id,
                {
                    "errors": node_reasons,
                    "dependent_outputs": [],
                    "class_type": ctx.prompt[node_id]["class_type"],
                },
            )
            entry["dependent_outputs"].append(output)
    if good:
        return Verdict(None, node_errors, good)
    details = "\n".join(
        f"{reason['message']}: {reason['details']}" for _, reasons in failed for reason in reasons
    )
    error = top_error(
        "prompt_outputs_failed_validation", "Prompt outputs failed validation", details
    )
    return Verdict(error, node_errors, [])


def _exception(kind: str, message: str, exc: Exception, **extra: Any) -> dict[str, Any]:
    """An error entry for an exception raised while validating, as ComfyUI reports one."""
    info = {**extra, "exception_type": type(exc).__qualname__, "traceback": TRACEBACK}
    return {"type": kind, "message": message, "details": str(exc), "extra_info": info}


def _validate_node(
    ctx: _Context, node_id: str, visiting: list[str]
) -> tuple[bool, list[dict[str, Any]]]:
    """(valid, this node's own errors); lookups of a dangling link raise, as in ComfyUI."""
    if node_id in ctx.validated:
        return ctx.validated[node_id]
    if node_id in visiting:
        return _cycle(ctx, visiting[visiting.index(node_id) :] + [node_id])
    node = ctx.prompt[node_id]
    inputs = node["inputs"]
    node_class = ctx.known[node["class_type"]]
    errors: list[dict[str, Any]] = []
    valid = True
    for spec in node_class.inputs:
        if spec.name not in inputs:
            if spec.required:
                errors.append(
                    _input_error("required_input_missing", "Required input is missing", spec)
                )
            continue
        value = inputs[spec.name]
        config = [kind_on_server(node_class, spec, ctx.installed), spec.options]
        if isinstance(value, list):
            problem, upstream_ok = _check_link(ctx, node_id, spec, value, config, visiting)
            if problem is not None:
                errors.append(problem)
            valid = valid and upstream_ok
            continue
        errors += _check_value(ctx, node_class, inputs, spec, config)
    result = (valid and not errors, errors)
    ctx.validated[node_id] = result
    return result


def _cycle(ctx: _Context, path: list[str]) -> tuple[bool, list[dict[str, Any]]]:
    shown = " -> ".join(f"{node_id} ({ctx.prompt[node_id]['class_type']})" for node_id in path)
    members = list(dict.fromkeys(path))
    for node_id in members:
        error = {
            "type": "dependency_cycle",
            "message": "Dependency cycle detected",
            "details": shown,
            "extra_info": {"node_id": node_id, "cycle_nodes": members},
        }
        ctx.validated[node_id] = (False, [error])
    return ctx.validated[path[0]]


def _check_link(
    ctx: _Context,
    node_id: str,
    spec: InputSpec,
    link: list[Any],
    config: list[Any],
    visiting: list[str],
) -> tuple[dict[str, Any] | None, bool]:
    """(this input's error or None, whether the linked node validated)."""
    if len(link) != 2:
        problem = _input_error(
            "bad_linked_input",
            "Bad linked input, must be a length-2 list of [node_id, slot_index]",
            spec,
            input_config=config,
            received_value=link,
        )
        return problem, True
    source_id, slot = link
    # Unguarded, as in ComfyUI: a missing node raises KeyError, a missing slot IndexError.
    source = ctx.prompt[source_id]
    received = ctx.known[source["class_type"]].outputs[slot]
    if not _compatible(received, spec.kind):
        problem = _input_error(
            "return_type_mismatch",
            "Return type mismatch between linked nodes",
            spec,
            f"{spec.name}, received_type({received}) mismatch input_type({spec.kind})",
            input_config=config,
            received_type=received,
            linked_node=link,
        )
        return problem, True
    visiting.append(node_id)
    try:
        upstream_ok, _ = _validate_node(ctx, source_id, visiting)
    except Exception as exc:  # noqa: BLE001 - reported on the upstream node, as ComfyUI does
        reason = _exception(
            "exception_during_inner_validation",
            "Exception when validating inner node",
            exc,
            input_name=spec.name,
            input_config=config,
            exception_message=str(exc),
            linked_node=link,
        )
        ctx.validated[source_id] = (False, [reason])
        return None, False
    finally:
        visiting.pop()
    return None, upstream_ok


def _compatible(received: Any, wanted: Any) -> bool:
    """ComfyUI's `validate_node_input` (non-strict): equal, `*`, or overlapping unions."""
    if received == wanted or "*" in (received, wanted):
        return True
    if isinstance(received, list) and wanted == "COMBO":
        return True
    if not isinstance(received, str) or not isinstance(wanted, str):
        return False
    got = {part.strip() for part in received.split(",")}
    want = {part.strip() for part in wanted.split(",")}
    return "*" in got | want or bool(got & want)


def _check_value(
    ctx: _Context,
    node_class: NodeClass,
    inputs: dict[str, Any],
    spec: InputSpec,
    config: list[Any],
) -> list[dict[str, Any]]:
    value = inputs[spec.name]
    try:
        if isinstance(value, dict) and "__value__" in value:
            value = inputs[spec.name] = value["__value__"]
        value = inputs[spec.name] = _converted(spec.kind, value)
    except Exception as exc:  # noqa: BLE001 - Python's own message is what ComfyUI shows
        return [
            _input_error(
                "invalid_input_type",
                f"Failed to convert an input value to a {spec.kind} value",
                spec,
                f"{spec.name}, {value}, {exc}",
                input_config=config,
                received_value=value,
                exception_message=str(exc),
            )
        ]
    if (node_class.name, spec.name) in UPLOAD_INPUTS:
        # LoadImage.VALIDATE_INPUTS replaces the list check with its own file lookup.
        if value in ctx.uploads:
            return []
        return [
            {
                "type": "custom_validation_failed",
                "message": "Custom validation failed for node",
                "details": f"{spec.name} - Invalid image file: {value}",
                "extra_info": {"input_name": spec.name},
            }
        ]
    return _range_and_list_errors(value, spec, config)


def _converted(kind: Any, value: Any) -> Any:
    if kind == "INT":
        return int(value)
    if kind == "FLOAT":
        return float(value)
    if kind == "STRING":
        return str(value)
    if kind == "BOOLEAN":
        return bool(value)
    return value


def _range_and_list_errors(value: Any, spec: InputSpec, config: list[Any]) -> list[dict[str, Any]]:
    low, high = spec.options.get("min"), spec.options.get("max")
    if low is not None and value < low:
        return [
            _input_error(
                "value_smaller_than_min",
                f"Value {value} smaller than min of {low}",
                spec,
                input_config=config,
                received_value=value,
            )
        ]
    if high is not None and value > high:
        return [
            _input_error(
                "value_bigger_than_max",
                f"Value {value} bigger than max of {high}",
                spec,
                input_config=config,
                received_value=value,
            )
        ]
    choices = config[0] if isinstance(config[0], list) else spec.choices
    if choices is None or value in choices:
        return []
    shown = f"(list of length {len(choices)})" if len(choices) > LIST_SHOWN_MAX else str(choices)
    return [
        _input_error(
            "value_not_in_list",
            "Value not in list",
            spec,
            f"{spec.name}: {value!r} not in {shown}",
            input_config=None if len(choices) > LIST_SHOWN_MAX else config,
            received_value=value,
        )
    ]


def _input_error(
    kind: str, message: str, spec: InputSpec, details: str | None = None, **extra: Any
) -> dict[str, Any]:
    """One entry of a node's `errors`, shaped as ComfyUI's `validate_inputs` builds it."""
    return {
        "type": kind,
        "message": message,
        "details": spec.name if details is None else details,
        "extra_info": {"input_name": spec.name, **extra},
    }
