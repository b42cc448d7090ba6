#!/bin/sh
# The system-identification baseline, whole pipeline seed $1, on reality $2 (default: the soft
# profile; docs/results.md sections 6b-6c): collect free-hand data, identify the hand, fine-tune
# the specialist, distill. Outputs are named by the profile's stem (soft, default, harsh, ...).
set -e
S=${1:?usage: sh benchmarks/sysid_pipeline_seed.sh SEED [PROFILE] (run from the repository root)}
R=${2:-benchmarks/profiles/soft.toml}
N=$(basename "$R" .toml)
. benchmarks/finetune_recipe.sh
collect_free "$R" "$S" 4 out/s13/sysid/free_${N}_seed$S
$D sysid --data out/s13/sysid/free_${N}_seed$S --seed $S --out out/s13/sysid/${N}_free_seed$S.json
finetune_specialist runs/sysid_${N}_seed$S/specialist $S --sysid out/s13/sysid/${N}_free_seed$S.json
distill runs/sysid_${N}_seed$S/specialist/latest.pt runs/sysid_${N}_seed$S/generalist 200 $S
