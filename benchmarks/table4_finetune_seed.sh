#!/bin/sh
# A fine-tune baseline of the paper's Table 4 on the all-wrist base (docs/results.md section 6i),
# whole pipeline seed $2, on reality $3 (default: the default profile). $1 picks what the
# training sim gets while the all-wrist specialist is fine-tuned:
#   sysid   - the hand identified from free-hand data on the reality (``dexndm sysid``);
#   uan     - a per-joint actuator net fitted to free-hand replays of the base's actions (UAN);
#   asap    - a whole-observation delta-action model fitted to the same replays (ASAP);
#   nominal - nothing: the control that measures what the extra PPO iterations alone give.
# Then it is distilled with the all-wrist generalist's recipe (checkpoints/generalist_wrists), so
# each baseline differs from the base, and from the others, only in its training sim.
# Output: runs/t4_$1_<profile stem>_seed$2/generalist/generalist.pt, ready for
# ``benchmarks/tables45.py --policies LABEL=runs/t4_$1_{profile}_seed{seed}/generalist/generalist.pt``.
# Run from the repository root; each step resumes or reuses its output when rerun.
set -e
U="usage: sh benchmarks/table4_finetune_seed.sh sysid|uan|asap|nominal SEED [PROFILE]"
B=${1:?$U}
S=${2:?$U}
R=${3:-default}
N=$(basename "$R" .toml)
. benchmarks/finetune_recipe.sh
BASE=checkpoints/generalist_wrists/generalist.pt  # the file runs/generalist_wrists_s17 held in sessions 17-24
SPEC=checkpoints/specialist_normal_cylinder_wrists/latest.pt
O=runs/t4_${B}_${N}_seed$S
# every dexndm command makes its own --out folder, so an unknown baseline leaves nothing behind
case $B in
sysid)
    [ -f "$O/sysid.json" ] || {
        collect_free "$R" "$S" 4 "$O/free"
        $D sysid --data "$O/free" --seed "$S" --out "$O/sysid.json"
    }
    EXTRA="--sysid $O/sysid.json" ;;
uan | asap)
    [ "$B" = uan ] && K=joint || K=whole
    [ -f "$O/model/delta_action.pt" ] || {
        collect_free "$R" "$S" 16 "$O/free" --source "$BASE"
        fit_delta_action $K "$O/free" "$O/model" "$S"
    }
    EXTRA="--delta-action $O/model/delta_action.pt" ;;
nominal) EXTRA= ;;
*) echo "baseline must be sysid, uan, asap or nominal, got $B" >&2; exit 2 ;;
esac
# The all-wrist specialist's phase-2 settings (its model card), 300 iterations as in sections 6-6c.
# shellcheck disable=SC2086
$D train specialist --category normal_cylinder --init-from "$SPEC" --out "$O/specialist" $EXTRA \
    --curriculum.0.wrists palm_up palm_up all --curriculum.0.axes +z --reward.rot-weight 2.0 \
    --iterations 300 --seed "$S" --nthread 1 --torch-threads 1
[ -f "$O/generalist/generalist.pt" ] || $D train generalist --specialists "$O/specialist/latest.pt" --out "$O/generalist" \
    --rollout.wrists all --rollout.axes +z --rollout.episode-steps 60 --rollout.episodes 1500 \
    --rollout.max-episodes 8192 --rollout.seed $((S + 1))
