"""dexndm.eval: evaluate a policy in simulation per (object, wrist orientation, rotation axis).

Modules: ``policies`` (the ``Policy`` protocol, ``HoldPolicy`` / ``RandomPolicy``, ``load_policy``
and the checkpoint-loader registry), ``cells`` (expanding object / wrist / axis lists), ``evaluate``
(the episode loop and ``EvalResult``), ``report`` (CSV / JSON files with sidecars, the rich table).
Example::

    from dexndm.eval import load_policy
    from dexndm.eval.evaluate import evaluate
    result = evaluate(load_policy("random"), objects=["cube"], wrists=["all"], axes=["principal"],
                      episodes_per_cell=10, out_dir="out/eval/random")

Only the policy interface is imported here, so that a stage registering a checkpoint loader does
not load MuJoCo (and the submodule ``evaluate`` would shadow a re-exported function anyway).
"""

from dexndm.eval.policies import (
    HoldPolicy,
    Policy,
    RandomPolicy,
    load_policy,
    register_policy_loader,
)

__all__ = ["HoldPolicy", "Policy", "RandomPolicy", "load_policy", "register_policy_loader"]
