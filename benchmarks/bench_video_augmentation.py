"""What training-time view augmentation gains on real detections: the multi-view check per augmentation.

Trains ``modgcn-open``'s first stage once (its pretrained recipe: 6,000 steps on the open benchmark, CPU, 2
threads), then runs its second stage (1,500 steps, learning rate 2e-4) once per augmentation choice, from the same
first-stage weights, and scores each with the multi-view check of chapter 7 ("Lifting your own video"): P-MPJPE
per view of the demo capture, next to the clip's own average pose. Rows:

* ``stage 1 only``: the first stage, no second stage;
* ``no augmentation``: the second stage on plain ground-truth 2D (what 1,500 more steps alone give);
* one row per augmentation on its own, then ``all`` (:data:`poselift_core.pretrained.VIDEO_AUGMENTATION`,
  identical to the seed-0 run of the shipped ``modgcn-open``, whose build runs the same two stages for seeds
  0, 1 and 2 and averages the three; ``--seed`` runs both stages with another seed).

Also printed: MPJPE on the open benchmark's test split (every camera-frame, per-frame average, no flip averaging).
About 20 minutes on a 2-core CPU (12 with ``--stage1`` pointing at a saved first stage)::

    python benchmarks/bench_video_augmentation.py [--stage1 stage1.pt] [--seed 1]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from poselift_core import demo_check
from poselift_core.evaluate import predict
from poselift_core.metrics import mpjpe
from poselift_core.models import build_model
from poselift_core.pretrained import PRETRAINED, VIDEO_AUGMENTATION, train_stage
from poselift_core.recipes import get_recipe
from poselift_core.sources import load_data

VARIANTS = {
    "no augmentation": {},
    "2D noise": {"noise_2d": VIDEO_AUGMENTATION["noise_2d"]},
    "proportions + joint offsets": {k: VIDEO_AUGMENTATION[k] for k in ("bone_scale", "joint_offset")},
    "camera distance + focal": {k: VIDEO_AUGMENTATION[k] for k in ("depth", "focal")},
    "all": dict(VIDEO_AUGMENTATION),
}


def score(model: torch.nn.Module, test, mean_pose) -> dict[str, float]:
    model.eval()
    check = demo_check.check_demo(lifter=model, mean_pose=mean_pose)
    row = {r["view"]: r["p_mpjpe"] for r in check.rows}
    row["clip average"] = check.rows[0]["clip_average_p_mpjpe"]
    with torch.no_grad():
        frames, pred = predict(model, test)
        row["open MPJPE"] = float(mpjpe(pred, test.y3d[frames])) * 1000
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--stage1", help="state dict (torch.save) of the first stage to start from instead of training "
                                     "it; written there after training when the file does not exist yet")
    ap.add_argument("--seed", type=int, default=0, help="seed of both stages (the shipped model averages 0, 1, 2)")
    args = ap.parse_args()
    spec = PRETRAINED["modgcn-open"]
    first = get_recipe(spec.recipe, profile="full", seed=args.seed, **spec.overrides)
    _, test, _ = load_data(first, "open", need_train=False)
    mean_pose = demo_check.mean_training_pose()
    t0 = time.time()
    if args.stage1 and Path(args.stage1).is_file():
        model = build_model(first.model, skeleton=test.skeleton, **first.model_overrides)
        model.load_state_dict(torch.load(args.stage1, weights_only=True))
    else:
        model = train_stage(first, progress=False)[0].model
        if args.stage1:
            torch.save(model.state_dict(), args.stage1)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    rows = {"stage 1 only": score(model, test, mean_pose)}
    print(f"stage 1: {time.time() - t0:.0f} s", flush=True)
    for name in args.variants:
        t1 = time.time()
        overrides = dict(spec.finetune, augment=VARIANTS[name])
        trainer, _ = train_stage(first.replace(**overrides), progress=False, start=start)
        rows[name] = score(trainer.model, test, mean_pose)
        print(f"{name}: {time.time() - t1:.0f} s", flush=True)
    cols = ["cam01", "cam02", "cam03", "cam04", "clip average", "open MPJPE"]
    print("\n| training | " + " | ".join(cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for name, row in rows.items():
        print(f"| {name} | " + " | ".join(f"{row[c]:.1f}" for c in cols) + " |")
    print(f"\nP-MPJPE per view of the demo capture (mm), MPJPE on the open test split (mm); seed {args.seed}; "
          f"{time.time() - t0:.0f} s")


if __name__ == "__main__":
    main()
