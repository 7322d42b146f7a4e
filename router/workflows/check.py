"""``interlock check`` for workflows: names resolve, chains type-check, references point backwards.

Each problem comes with its location in the file (a key path), so the loader reports it as
``file:line: message``. References are checked statically: ``/steps/<id>/<output>`` must name a
step that runs earlier (a compensation may also read its own step) and one of its declared
outputs; ``/trigger/<field>`` must be a field of the trigger's canonical model when the trigger's
last transform returns a pydantic model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import BaseModel

from router import registry
from router.config.kinds import Loc, Problem
from router.config.references import source_problems, target_problems, transform_problems
from router.pointer import Pointer
from router.template import reference_paths
from router.workflows.spec import CallSpec, Invocation, StepSpec, WorkflowSpec

if TYPE_CHECKING:
    from router.config.loaded import RouterConfig

ROOTS = ("trigger", "event", "steps", "instance")


@dataclass(frozen=True, slots=True)
class _WorkflowFiles:
    """The workflow files as :meth:`RouterConfig.specs` reads them (the kind itself imports this
    module, so it is named here by its name and model)."""

    name: str = "workflow"
    model: type[WorkflowSpec] = WorkflowSpec


WORKFLOW_FILES = _WorkflowFiles()
EVENT_FIELDS = frozenset({"source", "type", "key"})
INSTANCE_FIELDS = frozenset({"id", "key"})


def _chain(names: list[str], at: Loc) -> list[Problem]:
    return transform_problems(names, [(*at, i) for i in range(len(names))])


class _References:
    def __init__(self, spec: WorkflowSpec) -> None:
        self.outputs = {step.id: set(step.output) for step in spec.steps}
        self.order = [step.id for step in spec.steps]
        self.trigger_model = _trigger_model(spec)
        self.trigger_fields = (
            None
            if self.trigger_model is None
            else {f.alias or n for n, f in self.trigger_model.model_fields.items()}
        )

    def input_problems(self, call: Invocation, at: Loc) -> list[Problem]:
        """A chain reading the whole trigger must start with a transform that takes its model."""
        known = registry.transforms()
        names = call.input.transforms
        if self.trigger_model is None or not names or names[0] not in known:
            return []
        if call.input.from_ not in (None, "/trigger"):
            return []
        wanted = known[names[0]].input_type
        model = self.trigger_model
        if isinstance(wanted, type) and issubclass(wanted, BaseModel) and wanted is not model:
            return [(at, f"{names[0]} expects {wanted.__name__}, but /trigger is {model.__name__}")]
        return []

    def problems(  # noqa: PLR0911 - one early answer per kind of reference
        self, pointer: str, visible: list[str], at: Loc
    ) -> list[Problem]:
        parts = Pointer(pointer).parts
        root = parts[0] if parts else ""
        if root not in ROOTS:
            return [(at, f"{pointer} must start with one of /{', /'.join(ROOTS)}")]
        if root == "steps":
            return self._step_reference(pointer, parts, visible, at)
        if len(parts) < 2:
            return []
        field = parts[1]
        if (
            root == "trigger"
            and self.trigger_fields is not None
            and field not in self.trigger_fields
        ):
            return [(at, f"{pointer}: the trigger's model has no field {field!r}")]
        if root == "event" and field not in EVENT_FIELDS:
            return [(at, f"{pointer}: /event has only {', '.join(sorted(EVENT_FIELDS))}")]
        if root == "instance" and field not in INSTANCE_FIELDS:
            return [(at, f"{pointer}: /instance has only {', '.join(sorted(INSTANCE_FIELDS))}")]
        return []

    def _step_reference(
        self, pointer: str, parts: tuple[str, ...], visible: list[str], at: Loc
    ) -> list[Problem]:
        if len(parts) < 3:
            return [(at, f"{pointer}: name a step and one of its outputs, /steps/<id>/<output>")]
        step, output = parts[1], parts[2]
        if step not in self.outputs:
            return [(at, f"{pointer}: no step {step!r} in this workflow")]
        if step not in visible:
            return [(at, f"{pointer}: step {step!r} does not run before this point")]
        if output not in self.outputs[step]:
            declared = ", ".join(sorted(self.outputs[step])) or "none"
            return [(at, f"{pointer}: step {step!r} declares no output {output!r} ({declared})")]
        return []


def _trigger_model(spec: WorkflowSpec) -> type[BaseModel] | None:
    known = registry.transforms()
    if not spec.trigger.transforms or spec.trigger.transforms[-1] not in known:
        return None
    output = known[spec.trigger.transforms[-1]].output_type
    return output if isinstance(output, type) and issubclass(output, BaseModel) else None


def _input_problems(
    call: Invocation, at: Loc, visible: list[str], refs: _References
) -> list[Problem]:
    out = _chain(call.input.transforms, (*at, "input", "transforms"))
    out += refs.input_problems(call, (*at, "input", "transforms", 0))
    from_ = call.input.from_
    if isinstance(from_, dict):
        for name, pointer in from_.items():
            out += refs.problems(pointer, visible, (*at, "input", "from", name))
    elif from_ is not None:
        out += refs.problems(from_, visible, (*at, "input", "from"))
    for pointer, where in reference_paths(call.input.set):
        out += refs.problems(pointer, visible, (*at, "input", "set", *where))
    return out


def _call_problems(
    call: CallSpec, at: Loc, visible: list[str], refs: _References, config: RouterConfig
) -> list[Problem]:
    out = target_problems(call.call, (*at, "call"), config)
    return out + _input_problems(call, at, visible, refs)


def _child_problems(
    spec: WorkflowSpec, step: StepSpec, at: Loc, config: RouterConfig
) -> list[Problem]:
    """A `workflow:` step names another workflow, never itself (not even through others), and
    its outputs read steps and outputs the child declares."""
    workflows = config.specs(WORKFLOW_FILES)
    name = step.workflow or ""
    child = workflows.get(name)
    if name == spec.id:
        return [((*at, "workflow"), f"{spec.id} runs itself: a cycle of workflows")]
    if child is None:
        if (config.base / f"{name}.yaml").is_file():  # loaded later: it runs this one, or is wrong
            why = f"workflow {name!r} has errors, or runs {spec.id} in turn (a cycle)"
            return [((*at, "workflow"), why)]
        return [((*at, "workflow"), f"no workflow {name!r} in this folder")]
    if spec.id in _descendants(child, workflows):
        return [((*at, "workflow"), f"{child.id} runs {spec.id} again: a cycle of workflows")]
    out: list[Problem] = []
    child_outputs = {s.id: set(s.output) for s in child.steps}
    for name, pointer in step.output.items():
        parts = Pointer(pointer).parts
        where: Loc = (*at, "output", name)
        if len(parts) < 3 or parts[0] != "steps":
            out.append((where, f"{pointer}: read the child's /steps/<id>/<output>"))
        elif parts[1] not in child_outputs:
            out.append((where, f"{pointer}: {child.id} has no step {parts[1]!r}"))
        elif parts[2] not in child_outputs[parts[1]]:
            out.append(
                (where, f"{pointer}: {child.id}'s step {parts[1]!r} has no output {parts[2]!r}")
            )
    return out


def _descendants(spec: WorkflowSpec, workflows: dict[str, WorkflowSpec]) -> set[str]:
    """Every workflow ``spec`` runs as a child, directly or not."""
    seen: set[str] = {spec.id}
    stack = [spec]
    while stack:
        for step in stack.pop().steps:
            if step.workflow and step.workflow not in seen and step.workflow in workflows:
                seen.add(step.workflow)
                stack.append(workflows[step.workflow])
    return seen


def _step_problems(
    i: int, step: StepSpec, spec: WorkflowSpec, refs: _References, config: RouterConfig
) -> list[Problem]:
    at: Loc = ("steps", i)
    earlier = refs.order[:i]
    if step.workflow is not None:
        out = _child_problems(spec, step, at, config)
        out += _input_problems(step, at, earlier, refs)
    else:
        out = _call_problems(step.as_call(), at, earlier, refs, config)
    out += _chain(step.reply, (*at, "reply"))
    for j, predicate in enumerate(step.when):
        out += refs.problems(predicate.pointer, earlier, (*at, "when", j, "pointer"))
    if step.compensate is not None:
        out += _call_problems(
            step.compensate, (*at, "compensate"), [*earlier, step.id], refs, config
        )
    return out


def workflow_problems(spec: WorkflowSpec, config: RouterConfig) -> list[Problem]:
    """Every problem in ``spec`` against the loaded sources and connectors."""
    out = source_problems(spec.trigger.source, ("trigger", "source"), config)
    out += _chain(spec.trigger.transforms, ("trigger", "transforms"))
    ids = [step.id for step in spec.steps]
    for i, step_id in enumerate(ids):
        if step_id in ids[:i]:
            out.append((("steps", i, "id"), f"step ids must be unique: {step_id}"))
    if spec.sla is not None and spec.sla.until is not None and spec.sla.until not in ids:
        out.append((("sla", "until"), f"sla.until {spec.sla.until!r} is not a step id"))
    if not reference_paths(spec.key):
        out.append((("key",), "`key` must read the trigger, e.g. '{{ /trigger/number }}'"))
    refs = _References(spec)
    for pointer, _ in reference_paths(spec.key):
        root = Pointer(pointer).parts[:1]
        if root not in (("trigger",), ("event",)):
            out.append((("key",), f"{pointer}: the key can read only /trigger and /event"))
        else:
            out += refs.problems(pointer, [], ("key",))
    for i, step in enumerate(spec.steps):
        out += _step_problems(i, step, spec, refs, config)
    if spec.notify is not None:
        out += target_problems(spec.notify, ("notify",), config)
    return out
