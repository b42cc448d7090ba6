# The fine-tune and distillation every fine-tune baseline shares (docs/results.md sections 6-6c),
# sourced by benchmarks/sysid_pipeline_seed.sh, delta_action_pipeline_seed.sh and
# nominal_finetune_seed.sh, so that the baselines and their control differ only in what they put
# in the training sim.
D=.venv/bin/dexndm

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
