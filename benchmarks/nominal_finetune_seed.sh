#!/bin/sh
# The control for the fine-tune baselines (docs/results.md section 6c), pipeline seed $1: the same
# 300-iteration specialist fine-tune and distillation as benchmarks/sysid_pipeline_seed.sh, in the
# nominal training sim (no identified physics, no learned actuation). What a baseline gains over
# this row comes from the physics it put in the sim; what this row gains over direct transfer
# comes from the extra training on palm up +z alone.
set -e
S=${1:?usage: sh benchmarks/nominal_finetune_seed.sh SEED (run from the repository root)}
. benchmarks/finetune_recipe.sh
O=runs/nominal_ft_seed$S
finetune_specialist $O/specialist $S
distill $O/specialist/latest.pt $O/generalist 200 $S
