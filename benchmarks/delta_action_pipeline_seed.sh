#!/bin/sh
# The learned-sim-actuation baselines, whole pipeline seed $2, on reality $3 (default: the soft
# profile; docs/results.md section 6b): record free-hand replays of the generalist's actions on
# the reality, fit a delta-action model ($1 = joint: the UAN-style per-joint actuator net; whole:
# ASAP's delta-action model), fine-tune the specialist with it in the training sim's loop, distill.
# Fine-tuned specialists keep the object for 200 steps too rarely to distill from (section 6b), so
# the distillation keeps 100-step survivors. Outputs are named by structure and the profile's stem.
set -e
K=${1:?usage: sh benchmarks/delta_action_pipeline_seed.sh joint|whole SEED [PROFILE] (from the repository root)}
S=${2:?usage: sh benchmarks/delta_action_pipeline_seed.sh joint|whole SEED [PROFILE]}
R=${3:-benchmarks/profiles/soft.toml}
N=$(basename "$R" .toml)
case $K in joint) B=uan ;; whole) B=asap ;; *) echo "structure must be joint or whole, got $K" >&2; exit 2 ;; esac
. benchmarks/finetune_recipe.sh
F=out/s14/free_${N}_gen_seed$S
O=runs/${B}_${N}_seed$S
collect_free "$R" "$S" 16 "$F" --source checkpoints/generalist/generalist.pt
fit_delta_action $K "$F" "$O/model" "$S"
finetune_specialist $O/specialist $S --delta-action $O/model/delta_action.pt
distill $O/specialist/latest.pt $O/generalist100 100 $S
