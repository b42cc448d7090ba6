# The steps every fine-tune baseline shares (docs/results.md sections 6-6c and 6i-6l), sourced by
# benchmarks/sysid_pipeline_seed.sh, delta_action_pipeline_seed.sh, nominal_finetune_seed.sh and
# table4_finetune_seed.sh, so that the baselines and their control differ only in what they put
# in the training sim, and the palm-up and all-wrist runs fit their models the same way.
D=.venv/bin/dexndm

# collect_free REALITY SEED EPISODES OUT [EXTRA...]: free-hand episodes (no object) on the reality
# at all six wrists, EPISODES per wrist; EXTRA --source POLICY replays that policy's actions.
collect_free() {
    reality=$1 seed=$2 episodes=$3 out=$4
    shift 4
    $D collect --hand sim --reality "$reality" --mode free --episodes "$episodes" --wrist all "$@" --seed "$seed" --out "$out"
}

# fit_delta_action STRUCTURE DATA OUT SEED: the learned sim actuation of the UAN (joint) or ASAP
# (whole) baseline, fitted to free-hand replays.
fit_delta_action() {
    $D train delta-action --structure "$1" --real-data "$2" --out "$3" --steps 3000 --max-correction 0.15 --seed "$4" --threads 1 --no-progress
}

# finetune_specialist OUT SEED [EXTRA...]: the cylinder specialist, warm-started, 300 PPO
# iterations on palm up +z, with EXTRA (--sysid FILE, --delta-action FILE or nothing).
finetune_specialist() {
    out=$1 seed=$2
    shift 2
    $D train specialist --category normal_cylinder --out "$out" --init-from checkpoints/specialist_normal_cylinder/latest.pt "$@" --wrists palm_up --curriculum.1.wrists palm_up --curriculum.2.wrists palm_up --curriculum.3.wrists palm_up --iterations 300 --seed "$seed" --nthread 1 --torch-threads 1
}

# distill SPECIALIST OUT EPISODE_STEPS SEED: the shipped generalist's recipe on palm up +z, from
# 640 rollouts that survive EPISODE_STEPS steps.
distill() {
    $D train generalist --specialists "$1" --out "$2" --rollout.wrists palm_up --rollout.axes +z --rollout.episode-steps "$3" --rollout.episodes 640 --rollout.max-episodes 8192 --rollout.open-hand 0.5 --rollout.seed $(($4 + 1))
}
