#!/bin/sh
# The system-identification baseline on the soft profile, whole pipeline seed $1 (docs/results.md
# section 6b): collect free-hand data, identify the hand, fine-tune the specialist, distill.
set -e
S=${1:?usage: sh benchmarks/sysid_pipeline_seed.sh SEED (run from the repository root)}
D=.venv/bin/dexndm
R=benchmarks/profiles/soft.toml
$D collect --hand sim --reality $R --mode free --episodes 4 --wrist all --seed $S --out out/s13/sysid/free_soft_seed$S
$D sysid --data out/s13/sysid/free_soft_seed$S --seed $S --out out/s13/sysid/soft_free_seed$S.json
$D train specialist --category normal_cylinder --out runs/sysid_soft_seed$S/specialist --init-from checkpoints/specialist_normal_cylinder/latest.pt --sysid out/s13/sysid/soft_free_seed$S.json --wrists palm_up --curriculum.1.wrists palm_up --curriculum.2.wrists palm_up --curriculum.3.wrists palm_up --iterations 300 --seed $S --nthread 1 --torch-threads 1
$D train generalist --specialists runs/sysid_soft_seed$S/specialist/latest.pt --out runs/sysid_soft_seed$S/generalist --rollout.wrists palm_up --rollout.axes +z --rollout.episode-steps 200 --rollout.episodes 640 --rollout.max-episodes 8192 --rollout.open-hand 0.5 --rollout.seed $((S + 1))
