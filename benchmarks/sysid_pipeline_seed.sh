#!/bin/sh
# The system-identification baseline, whole pipeline seed $1, on reality $2 (default: the soft
# profile; docs/results.md sections 6b-6c): collect free-hand data, identify the hand, fine-tune
# the specialist, distill. Outputs are named by the profile's stem (soft, default, harsh, ...).
set -e
S=${1:?usage: sh benchmarks/sysid_pipeline_seed.sh SEED [PROFILE] (run from the repository root)}
R=${2:-benchmarks/profiles/soft.toml}
N=$(basename "$R" .toml)
D=.venv/bin/dexndm
$D collect --hand sim --reality "$R" --mode free --episodes 4 --wrist all --seed $S --out out/s13/sysid/free_${N}_seed$S
$D sysid --data out/s13/sysid/free_${N}_seed$S --seed $S --out out/s13/sysid/${N}_free_seed$S.json
$D train specialist --category normal_cylinder --out runs/sysid_${N}_seed$S/specialist --init-from checkpoints/specialist_normal_cylinder/latest.pt --sysid out/s13/sysid/${N}_free_seed$S.json --wrists palm_up --curriculum.1.wrists palm_up --curriculum.2.wrists palm_up --curriculum.3.wrists palm_up --iterations 300 --seed $S --nthread 1 --torch-threads 1
$D train generalist --specialists runs/sysid_${N}_seed$S/specialist/latest.pt --out runs/sysid_${N}_seed$S/generalist --rollout.wrists palm_up --rollout.axes +z --rollout.episode-steps 200 --rollout.episodes 640 --rollout.max-episodes 8192 --rollout.open-hand 0.5 --rollout.seed $((S + 1))
