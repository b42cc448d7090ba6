"""What shaped a store's episodes: its plan, checked before a resumed run appends to it.

A recorder that resumes into an existing store must record the same kind of episodes, or the store
ends up mixing two hands, tasks or data sources that no reader can tell apart afterwards. Each
recorder keeps its plan (the settings that shape an episode, not those that only say how many) in
the store's ``info["plan"]`` and refuses to resume when it differs: ``dexndm collect`` and
``benchmarks/task_data_store.py`` both do.
"""

from __future__ import annotations

from typing import Any

from dexndm.data.store import EpisodeStore

__all__ = ["PlanMismatchError", "check_store_plan", "plan_differences"]


class PlanMismatchError(ValueError):
    """A store was recorded with another plan than the run that would resume into it."""


def plan_differences(stored: Any, plan: Any, path: str = "") -> list[str]:
    """Every leaf where ``stored`` and ``plan`` (nested dicts) differ, as ``"a.b: store X, now Y"``,
    sorted; empty when they agree."""
    if isinstance(stored, dict) and isinstance(plan, dict):
        out: list[str] = []
        for k in stored.keys() | plan.keys():
            out += plan_differences(stored.get(k), plan.get(k), f"{path}.{k}" if path else k)
        return sorted(out)
    return [] if stored == plan else [f"{path}: store {stored!r}, now {plan!r}"]


def check_store_plan(
    store: EpisodeStore,
    plan: dict[str, Any],
    *,
    recorder: str,
    resume_advice: str,
    new_out: str = "record into a new --out",
) -> None:
    """Raise :class:`PlanMismatchError` unless ``store`` was recorded with ``plan``.

    Args:
        recorder: what writes such stores, for the message (e.g. ``"`dexndm collect`"``).
        resume_advice: how to resume it instead, for the message (e.g. which settings may change).
        new_out: the other way out, for the message.
    """
    stored = store.dataset_meta.get("info", {}).get("plan")
    if stored == plan:
        return
    if stored is None:
        raise PlanMismatchError(f"{store.root} is an episode store not written by {recorder}; {new_out}")
    raise PlanMismatchError(
        f"{store.root} was recorded with other settings ({'; '.join(plan_differences(stored, plan))}); "
        f"{resume_advice} or {new_out}"
    )
