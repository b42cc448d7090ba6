#!/bin/sh
# The control for the fine-tune baselines (docs/results.md section 6c), pipeline seed $1: the same
# 300-iteration specialist fine-tune and distillation as benchmarks/sysid_pipeline_seed.sh, in the
# nominal training sim (no identified physics, no learned actuation). What a baseline gains over
# this row comes from the physics it put in the sim; what this row gains over direct transfer
# comes from the extra training on palm up +z alone.
set -e
S=${1:?usage: sh benchmarks/nominal_finetune_seed.sh SEED (run from the repository root)}
D=.venv/bin/dexndm
O=runs/nominal_ft_seed$S
$D train specialist --category normal_cylinder --out $O/specialist --init-from checkpoints/specialist_normal_cylinder/latest.pt --wrists palm_up --curriculum.1.wrists palm_up --curriculum.2.wrists palm_up --curriculum.3.wrists palm_up --iterations 300 --seed $S --nthread 1 --torch-threads 1
$D train generalist --specialists $O/specialist/latest.pt --out $O/generalist --rollout.wrists palm_up --rollout.axes +z --rollout.episode-steps 200 --rollout.episodes 640 --rollout.max-episodes 8192 --rollout.open-hand 0.5 --rollout.seed $((S + 1))
