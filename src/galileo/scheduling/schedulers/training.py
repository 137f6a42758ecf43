"""The REINFORCE loop shared by the learning schedulers (progress, curves, checkpoints)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galileo.scheduling.compositions import IntArray
from galileo.scheduling.schedulers.base import Progress, TrainingCurve
from galileo.scheduling.schedulers.policy import TreePolicy, sequences

GROUP = 8  # episodes per update, all on the same batch; the group mean is the baseline
CHECKPOINT_EVERY = 25

Reward = Callable[[IntArray, int], np.ndarray]  # (slot counts E×K×7, batch row) -> E rewards
Hook = Callable[[int, int, np.ndarray, IntArray], None]  # (update, row, rewards, actions)


@dataclass
class Run:
    """One training run: what to train, on what, for how long."""

    policy: TreePolicy
    batches: IntArray
    reward: Reward
    updates: int
    seed: int
    curve: TrainingCurve
    progress: Progress | None = None
    checkpoint: Path | None = None
    forced: Callable[[int, int], IntArray | None] | None = None  # demos: (update, row) -> actions
    after: Hook | None = None  # called after each update (e.g. the optimal-episode buffer)
    slot_value: Callable[[np.ndarray], np.ndarray] | None = None  # per-step gains (node slots)


def step_advantages(gains: np.ndarray) -> np.ndarray:
    """Reward-to-go of per-decision gains, baselined per step across the group's episodes
    (they share one container sequence, so step t means the same container everywhere)."""
    to_go = np.cumsum(gains[:, ::-1], axis=1)[:, ::-1]
    centred = to_go - to_go.mean(0, keepdims=True)
    std = centred.std()
    return centred / std if std > 1e-9 else np.zeros_like(centred)


def advantages(rewards: np.ndarray) -> np.ndarray:
    """Group-relative advantage: (R - mean) / std (zero when all episodes tie)."""
    std = rewards.std()
    return (rewards - rewards.mean()) / std if std > 1e-9 else np.zeros_like(rewards)


def train(run: Run) -> float:
    """Run the updates (resuming from ``run.checkpoint``); returns training seconds."""
    start_update, offset_s = _resume(run)
    rng = np.random.default_rng(run.seed + start_update)
    t0 = time.monotonic()
    for u in range(start_update, run.updates):
        row = u % len(run.batches)
        seqs = sequences(run.batches[row: row + 1], GROUP)
        forced = run.forced(u, row) if run.forced else None
        counts, trace = run.policy.rollout(seqs, rng, forced, run.slot_value)
        rewards = run.reward(counts, row)
        adv = advantages(rewards) if trace.gains is None else step_advantages(trace.gains)
        if forced is not None:  # demonstrations: imitate, the better ones more
            adv = (rewards - rewards.min()) / max(float(np.ptp(rewards)), 1e-9) + 0.5
        run.policy.learn(trace, adv)
        if run.after is not None and run.policy.branching.__len__() == 1:
            run.after(u, row, rewards, np.stack(trace.actions[0]).T)
        wall = offset_s + time.monotonic() - t0
        run.curve.episodes.append((u + 1) * GROUP)
        run.curve.tput.append(float(rewards.mean()))
        run.curve.wall_s.append(wall)
        if run.progress is not None:
            run.progress(u + 1, run.updates, float(rewards.mean()))
        if run.checkpoint is not None and ((u + 1) % CHECKPOINT_EVERY == 0
                                           or u + 1 == run.updates):
            run.policy.save(run.checkpoint, update=u + 1, wall_s=wall,
                            episodes=run.curve.episodes, tput=run.curve.tput,
                            curve_wall=run.curve.wall_s)
    return time.monotonic() - t0


def _resume(run: Run) -> tuple[int, float]:
    if run.checkpoint is None or not run.checkpoint.is_file():
        return 0, 0.0
    meta = run.policy.load(run.checkpoint)
    run.curve.episodes[:] = [int(e) for e in meta.get("episodes", [])]
    run.curve.tput[:] = [float(t) for t in meta.get("tput", [])]
    run.curve.wall_s[:] = [float(w) for w in meta.get("curve_wall", [])]
    return int(meta.get("update", 0)), float(meta.get("wall_s", 0.0))
