import subprocess
import sys

import numpy as np
import pytest
import torch

from poselift_core.data import canonical_action
from poselift_core.metrics import (auc, format_action_table, joint_errors, mpjpe, mpjve, n_mpjpe, p_mpjpe,
                                   pck, per_action_table, per_joint_error, procrustes_align, scale_align)


def random_poses(n: int, j: int = 17, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return 0.3 * torch.randn(n, j, 3, generator=g, dtype=torch.float64)


def random_rotation(n: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    q, r = torch.linalg.qr(torch.randn(n, 3, 3, generator=g, dtype=torch.float64))
    q = q * torch.sign(torch.diagonal(r, dim1=-2, dim2=-1)).unsqueeze(-2)
    det = torch.linalg.det(q)
    q[..., :, 0] *= det.sign().unsqueeze(-1)           # make every matrix a proper rotation
    return q


def umeyama_loop_np(pred: np.ndarray, target: np.ndarray, allow_reflection: bool = False) -> np.ndarray:
    """Independent Protocol #2: Umeyama (1991) with column vectors, one pose at a time, no normalisation."""
    out = np.empty(len(pred))
    for i, (P, G) in enumerate(zip(pred, target)):
        mp, mg = P.mean(0), G.mean(0)
        sigma = (G - mg).T @ (P - mp) / len(P)          # cross-covariance, target x pred
        U, D, Vt = np.linalg.svd(sigma)
        S = np.eye(3)
        if not allow_reflection and np.linalg.det(U) * np.linalg.det(Vt) < 0:
            S[2, 2] = -1
        R = U @ S @ Vt
        c = np.trace(np.diag(D) @ S) / ((P - mp) ** 2).sum(1).mean()
        aligned = (c * (R @ (P - mp).T)).T + mg
        out[i] = np.linalg.norm(aligned - G, axis=1).mean()
    return out


# --------------------------------------------------------------------------- Protocol #1
def test_mpjpe_of_pose_with_itself_is_zero():
    y = random_poses(4)
    assert mpjpe(y, y).item() == 0.0


def test_mpjpe_hand_computed():
    target = torch.zeros(1, 2, 3)
    pred = target + torch.tensor([3.0, 4.0, 0.0])       # both joints displaced by a 3-4-5 vector
    assert mpjpe(pred, target).item() == pytest.approx(5.0)
    pred[0, 1] = 0.0                                     # one joint right, one 5 off -> mean 2.5
    assert mpjpe(pred, target).item() == pytest.approx(2.5)


def test_mpjpe_reduction_none_matches_loop_and_numpy_boundary():
    p, g = random_poses(6, seed=1), random_poses(6, seed=2)
    per_pose = mpjpe(p, g, reduction="none")
    expected = [np.mean([np.linalg.norm(p[i, j] - g[i, j]) for j in range(17)]) for i in range(6)]
    np.testing.assert_allclose(per_pose.numpy(), expected, rtol=1e-12)
    out = mpjpe(p.numpy(), g.numpy())
    assert isinstance(out, float) and out == pytest.approx(np.mean(expected))
    assert isinstance(mpjpe(p.numpy(), g.numpy(), reduction="none"), np.ndarray)


def test_mpjpe_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="pred has shape"):
        mpjpe(torch.zeros(2, 17, 3), torch.zeros(2, 16, 3))
    with pytest.raises(ValueError, match="reduction"):
        mpjpe(torch.zeros(2, 17, 3), torch.zeros(2, 17, 3), reduction="sum")


# --------------------------------------------------------------------------- Protocol #2
def test_p_mpjpe_zero_for_similarity_transform_of_target():
    g = random_poses(8, seed=3)
    R = random_rotation(8, seed=4)
    s = torch.linspace(0.5, 2.0, 8, dtype=torch.float64)[:, None, None]
    t = torch.randn(8, 1, 3, dtype=torch.float64)
    pred = s * g @ R.transpose(-1, -2) + t
    assert mpjpe(pred, g).item() > 0.1
    assert p_mpjpe(pred, g, reduction="none").max().item() < 1e-10
    torch.testing.assert_close(procrustes_align(pred, g), g, atol=1e-10, rtol=0)


def test_p_mpjpe_invariant_to_similarity_transform_of_prediction():
    g = random_poses(16, seed=5)
    p = g + 0.05 * random_poses(16, seed=6)
    R = random_rotation(16, seed=7)
    moved = 1.7 * p @ R.transpose(-1, -2) + torch.tensor([0.3, -1.0, 4.0], dtype=torch.float64)
    torch.testing.assert_close(p_mpjpe(moved, g, reduction="none"), p_mpjpe(p, g, reduction="none"))


def test_p_mpjpe_alignment_never_increases_squared_error():
    g = random_poses(64, seed=8)
    p = g + 0.1 * random_poses(64, seed=9)
    p[:8, :, 2] = 0.0                                    # include some flat (rank-2) predictions
    sse = lambda a: ((a - g) ** 2).sum((-2, -1))  # noqa: E731
    assert (sse(procrustes_align(p, g)) <= sse(p) + 1e-12).all()
    # Procrustes minimises the squared error, not the mean distance, so P-MPJPE <= MPJPE is not a theorem;
    # it holds for realistic noisy predictions
    noisy = g + 0.05 * random_poses(64, seed=23)
    assert (p_mpjpe(noisy, g, reduction="none") <= mpjpe(noisy, g, reduction="none")).all()


def test_p_mpjpe_matches_independent_umeyama_loop():
    g = random_poses(32, seed=10)
    p = 1.3 * g + 0.2 * random_poses(32, seed=11)
    expected = umeyama_loop_np(p.numpy(), g.numpy())
    np.testing.assert_allclose(p_mpjpe(p, g, reduction="none").numpy(), expected, rtol=1e-9, atol=1e-12)
    # NumPy in -> NumPy / float out, same numbers
    np.testing.assert_allclose(p_mpjpe(p.numpy(), g.numpy(), reduction="none"), expected, rtol=1e-9)


def test_p_mpjpe_forbids_reflection():
    g = random_poses(8, seed=12)
    mirrored = g * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64)
    # an unconstrained orthogonal Procrustes would undo the mirror exactly ...
    assert umeyama_loop_np(mirrored.numpy(), g.numpy(), allow_reflection=True).max() < 1e-10
    # ... Protocol #2 must not
    err = p_mpjpe(mirrored, g, reduction="none")
    np.testing.assert_allclose(err.numpy(), umeyama_loop_np(mirrored.numpy(), g.numpy()), rtol=1e-9)
    assert err.min().item() > 0.01


def test_p_mpjpe_degenerate_poses_are_finite():
    g = random_poses(3, seed=13)
    collapsed = torch.zeros_like(g)
    # a collapsed prediction is mapped to the target's centroid
    expected = (g - g.mean(-2, keepdim=True)).norm(dim=-1).mean(-1)
    torch.testing.assert_close(p_mpjpe(collapsed, g, reduction="none"), expected)
    assert p_mpjpe(g, collapsed).item() == 0.0
    planar = g.clone()
    planar[..., 2] = 0.0                                 # rank-2 poses: one singular value is 0
    line = g.clone()
    line[..., 1:] = 0.0                                  # rank-1 poses
    for p in (planar, line):
        e = p_mpjpe(p, g, reduction="none")
        np.testing.assert_allclose(e.numpy(), umeyama_loop_np(p.numpy(), g.numpy()), rtol=1e-9)


def test_p_mpjpe_float32_computed_in_float64():
    g = random_poses(16, seed=14)
    p = g + 0.05 * random_poses(16, seed=15)
    e32 = p_mpjpe(p.float(), g.float())
    assert e32.dtype == torch.float32
    assert e32.item() == pytest.approx(p_mpjpe(p, g).item(), rel=1e-5)


# --------------------------------------------------------------------------- Protocol #3
def test_n_mpjpe_uses_the_least_squares_scale():
    g = random_poses(8, seed=16)
    p = 0.8 * g + 0.05 * random_poses(8, seed=17)
    per_pose = n_mpjpe(p, g, reduction="none")
    for i in range(8):
        s, *_ = np.linalg.lstsq(p[i].reshape(-1, 1).numpy(), g[i].reshape(-1).numpy(), rcond=None)
        expected = np.linalg.norm(s[0] * p[i].numpy() - g[i].numpy(), axis=1).mean()
        assert per_pose[i].item() == pytest.approx(expected, rel=1e-10)
        # s is optimal for the squared error: perturbing it in either direction increases that error
        sse = lambda k: ((k * p[i] - g[i]) ** 2).sum().item()  # noqa: E731
        assert sse(s[0]) < sse(s[0] * 1.01) and sse(s[0]) < sse(s[0] * 0.99)
    assert n_mpjpe(2.5 * g, g).item() < 1e-12
    torch.testing.assert_close(scale_align(2.5 * g, g), g)


# --------------------------------------------------------------------------- velocity
def test_mpjve_constant_offset_is_zero_and_linear_drift_is_hand_computed():
    g = random_poses(10, seed=18)                        # (T=10, J, 3)
    assert mpjve(g + torch.tensor([0.1, -0.2, 0.3], dtype=torch.float64), g).item() < 1e-12
    t = torch.arange(10, dtype=torch.float64)[:, None, None]
    drift = g + t * torch.tensor([3.0, 4.0, 0.0], dtype=torch.float64)
    torch.testing.assert_close(mpjve(drift, g, reduction="none"), torch.full((9,), 5.0, dtype=torch.float64))


def test_mpjve_ignores_transitions_between_sequences():
    g = random_poses(12, seed=19)
    seq = torch.tensor([0] * 5 + [1] * 7)
    p = g + torch.where(seq == 0, 0.0, 1.0).to(g)[:, None, None]   # a different constant per sequence
    assert mpjve(p, g).item() > 0.1                                 # the jump at the boundary counts ...
    assert mpjve(p, g, sequence=seq).item() < 1e-12                 # ... unless sequences are given
    assert mpjve(p, g, reduction="none", sequence=seq).shape == (10,)


# --------------------------------------------------------------------------- per joint, PCK, AUC
def test_per_joint_error_matches_loop():
    p, g = random_poses(5, j=4, seed=20), random_poses(5, j=4, seed=21)
    expected = [np.mean([np.linalg.norm(p[i, j] - g[i, j]) for i in range(5)]) for j in range(4)]
    np.testing.assert_allclose(per_joint_error(p, g).numpy(), expected, rtol=1e-12)
    torch.testing.assert_close(per_joint_error(p, g).mean(), mpjpe(p, g))


def pose_with_errors(errors_m: list[float]) -> tuple[torch.Tensor, torch.Tensor]:
    g = random_poses(1, j=len(errors_m), seed=22)
    direction = torch.nn.functional.normalize(torch.randn(len(errors_m), 3, dtype=torch.float64), dim=-1)
    return g + torch.tensor(errors_m, dtype=torch.float64)[:, None] * direction, g


def test_pck_and_auc_hand_cases():
    # errors in mm, off the 5 mm grid except 0 (exact in floating point)
    errors_mm = [0.0, 12.5, 101.0, 149.9, 150.1, 400.0]
    p, g = pose_with_errors([e / 1000 for e in errors_mm])
    assert pck(p, g).item() == pytest.approx(100 * 4 / 6)            # strict "<": 0 mm counts, 150.1 does not
    # AUC: thresholds 0, 5, ..., 150 mm; joint with error e is correct at the thresholds t > e
    per_joint = [sum(1 for t in range(0, 151, 5) if e < t) / 31 for e in errors_mm]
    assert per_joint == [30 / 31, 28 / 31, 10 / 31, 1 / 31, 0, 0]
    assert auc(p, g).item() == pytest.approx(100 * np.mean(per_joint))
    # millimetre inputs with millimetre thresholds give the same numbers
    assert pck(1000 * p, 1000 * g, threshold=150).item() == pytest.approx(pck(p, g).item())
    assert auc(1000 * p, 1000 * g, max_threshold=150, step=5).item() == pytest.approx(auc(p, g).item())
    assert auc(g, g).item() == pytest.approx(100 * 30 / 31)           # t = 0 never counts a joint
    assert pck(g, g, threshold=0.0).item() == 0.0                     # an error equal to the threshold fails


def test_joint_errors_numpy():
    p, g = pose_with_errors([0.01, 0.02, 0.03])
    np.testing.assert_allclose(joint_errors(p.numpy(), g.numpy()), [[0.01, 0.02, 0.03]], rtol=1e-12)


# --------------------------------------------------------------------------- per-action tables
def test_per_action_table_groups_canonically_and_averages_unweighted():
    actions = ["Sitting 1", "Sitting 1", "SittingDown", "Sitting", "Walking 1", "WalkDog"]
    errors = torch.tensor([10.0, 20.0, 100.0, 30.0, 40.0, 60.0])
    table = per_action_table(errors, actions, action_of=canonical_action)
    assert list(table) == ["Sitting", "SittingDown", "WalkDog", "Walking", "Average"]
    assert table["Sitting"] == pytest.approx(20.0)                    # frame-weighted over 3 frames
    assert table["SittingDown"] == pytest.approx(100.0)
    assert table["Average"] == pytest.approx((20 + 100 + 60 + 40) / 4)
    assert table["Average"] != pytest.approx(errors.mean().item())     # not the mean over frames


def test_per_action_table_per_sequence_labels_and_subjects():
    seq_actions = ["Directions 1", "Directions", "Eating 2", "Eating 2"]
    seq_subjects = ["S9", "S11", "S9", "S11"]
    frame_seq = torch.tensor([0, 0, 1, 2, 2, 2, 3])
    errors = np.array([1.0, 3.0, 5.0, 7.0, 8.0, 9.0, 2.0])
    flat = per_action_table(errors, [seq_actions[s] for s in frame_seq], action_of=canonical_action)
    per_seq = per_action_table(errors, seq_actions, frame_seq=frame_seq, action_of=canonical_action)
    assert per_seq == pytest.approx(flat)
    tables = per_action_table(errors, seq_actions, seq_subjects, frame_seq=frame_seq, action_of=canonical_action)
    assert list(tables) == ["S9", "S11", "All"]
    assert tables["S9"] == pytest.approx({"Directions": 2.0, "Eating": 8.0, "Average": 5.0})
    assert tables["S11"] == pytest.approx({"Directions": 5.0, "Eating": 2.0, "Average": 3.5})
    assert tables["All"] == pytest.approx(flat)
    assert flat["Directions"] == pytest.approx(3.0) and flat["Eating"] == pytest.approx(6.5)


def test_per_action_table_without_action_of_keeps_every_label_and_needs_no_data_module():
    errors = torch.tensor([1.0, 3.0, 5.0, 8.0])
    table = per_action_table(errors, ["Walking 1", "Walking 1", "Walking 2", "Eating"])
    assert table == pytest.approx({"Eating": 8.0, "Walking 1": 2.0, "Walking 2": 5.0, "Average": 5.0})
    grouped = per_action_table(errors, ["Walking 1", "Walking 1", "Walking 2", "Eating"], action_of=canonical_action)
    assert grouped == pytest.approx({"Eating": 8.0, "Walking": 3.0, "Average": 5.5})
    # metrics sits below the data readers: importing it must not import them
    code = "import sys, poselift_core.metrics; print(any(m.startswith('poselift_core.data') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_action_order_is_the_usual_h36m_column_order():
    published = ["Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
                 "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether"]
    shuffled = list(np.random.default_rng(0).permutation(published))
    table = per_action_table(np.arange(15.0), [a + " 1" for a in shuffled], action_of=canonical_action)
    assert list(table)[:-1] == published


def test_format_action_table_round_trips_values():
    tables = {"P1": {"Sitting": 50.04, "Walking": 30.0, "Average": 40.02},
              "P2": {"Walking": 20.0, "Average": 20.0}}
    text = format_action_table(tables)
    lines = text.splitlines()
    assert len(lines) == 4
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == ["", "Sitting", "Walking", "Avg"]
    rows = {ln.split("|")[1].strip(): [c.strip() for c in ln.strip("|").split("|")[1:]] for ln in lines[2:]}
    assert rows["P1"] == ["50.0", "30.0", "40.0"]
    assert rows["P2"] == ["-", "20.0", "20.0"]
