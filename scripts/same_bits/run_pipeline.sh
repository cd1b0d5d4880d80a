#!/bin/bash
# SPDX-License-Identifier: Apache-2.0
# run_pipeline.sh BIN OUTDIR: a small deterministic pipeline (about 1 minute at 1-2 threads) that writes
# every checkpoint kind (encoder, trust_net mlp/temporal, world model bptt/ss/tf, policies iql/td3bc/sac),
# rollouts, world eval and trust scores. Run it with the binary before and after a change (both built
# with the same GIT_DESC, e.g. make GIT_DESC=fixed), into directories of names of equal length, then
# compare.py OUT_BEFORE OUT_AFTER.
set -e
B=$1; O=$2; rm -rf $O; mkdir -p $O
nice $B demo --out $O/demo --episodes 10 --seeds 1 --updates 200 --eval-episodes 2 --hidden 32 --members 2 --wm-iters 30 --threads 1 --db none --quiet > $O/demo.txt 2>&1
for a in iql td3bc sac; do
nice $B train --data $O/demo/real.npz --latents $O/demo/latents.npz --synth-data $O/demo/branches.npz --output $O/pol_$a.safetensors --algo $a --updates 100 --hidden 32 --threads 1 --db none --quiet > $O/train_$a.txt 2>&1
done
D=$O/demo
nice $B world rollout --data $D/real.npz --latents $D/latents.npz --world-model $D/world.safetensors --output $O/roll.npz --horizon 20 --n 20 --threads 1 --db none --quiet > $O/roll.txt 2>&1
nice $B world eval --data $D/real.npz --latents $D/latents.npz --world-model $D/world.safetensors --trust-model $D/trust.safetensors --threads 1 --db none --quiet > $O/weval.txt 2>&1
nice $B trust score --model $D/trust.safetensors --latents $D/latents.npz --window 10 --data $D/real.npz --output $O/score.npz --json > $O/score.txt 2>&1
nice $B trust train --latents $D/latents.npz --data $D/real.npz --output $O/trust_tmp.safetensors --temporal --steps 60 --with-inflate --with-drift --negatives $O/roll.npz --eval-windows 40 --lengths 5,10 --threads 1 --db none --quiet > $O/trust_tmp.txt 2>&1
nice $B trust train --latents $D/latents.npz --data $D/real.npz --output $O/trust_mlp.safetensors --steps 60 --no-noise --negatives $O/roll.npz --eval-windows 40 --lengths 5,10,20 --threads 1 --db none --quiet > $O/trust_mlp.txt 2>&1
nice $B world train --data $D/real.npz --latents $D/latents.npz --output $O/wm_ss.safetensors --mode ss --members 2 --hidden 32 --horizon 20 --iters 40 --threads 2 --db none --quiet > $O/wm_ss.txt 2>&1
nice $B world train --data $D/real.npz --latents $D/latents.npz --output $O/wm_tf.safetensors --mode tf --members 3 --hidden 16 --horizon 10 --iters 30 --no-hetero-noise --no-bootstrap --threads 1 --db none --quiet > $O/wm_tf.txt 2>&1
