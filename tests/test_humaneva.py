"""HumanEva-I (poselift_core.data.humaneva): tables, cameras, the protocol's action names, and detections whose joint
set differs from the 15-joint 3D (COCO-17, mapped when the pair loads; anything unmappable refused then)."""
import numpy as np
import pytest

from poselift_core.camera import project_to_image, world_to_camera
from poselift_core.data import DataError, canonical_action
from poselift_core.data.fixtures import make_fake_humaneva
from poselift_core.data.humaneva import (HUMANEVA_ACTIONS, HUMANEVA_CAMERAS, HUMANEVA_EVAL_ACTIONS,
                                         HUMANEVA_FRAME_OFFSETS, HUMANEVA_TEST_SUBJECTS, HUMANEVA_TRAIN_SUBJECTS,
                                         HUMANEVA_TRIAL1_RANGES, load_humaneva)
from poselift_core.data.videopose3d import read_positions_2d, save_videopose3d
from poselift_core.skeleton import HUMANEVA_15

LEFT, RIGHT = [2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]


def standing_person(n, rng):
    """(n, 15, 3) rough HumanEva poses near the origin (Z up, metres), with a little jitter."""
    rest = np.array([[0, 0, 1.0], [0, 0, 1.45], [0.2, 0, 1.45], [0.2, 0, 1.15], [0.2, 0, 0.9], [-0.2, 0, 1.45],
                     [-0.2, 0, 1.15], [-0.2, 0, 0.9], [0.1, 0, 0.95], [0.1, 0, 0.5], [0.1, 0, 0.08],
                     [-0.1, 0, 0.95], [-0.1, 0, 0.5], [-0.1, 0, 0.08], [0, 0, 1.7]])
    return (rest + rng.normal(0, 0.02, size=(n, 15, 3))).astype(np.float32)


@pytest.fixture
def humaneva_dir(tmp_path):
    """A tiny pair in the VideoPose3D HumanEva layout, written with raw np.savez_compressed."""
    rng = np.random.default_rng(0)
    pos3d, pos2d = {}, {}
    for part in ("Train", "Validate"):
        for sid in ("S1", "S2", "S3"):
            subject = f"{part}/{sid}"
            pos3d[subject], pos2d[subject] = {}, {}
            for action in ("Walking 1 chunk0", "Jog 1 chunk0", "Box 1 chunk0", "Gestures 1 chunk0"):
                X = standing_person(6, rng)
                pos3d[subject][action] = X
                pos2d[subject][action] = [project_to_image(world_to_camera(X, c), c) for c in HUMANEVA_CAMERAS[sid]]
    pos2d["Unlabeled/S4"] = {"Walking 1": [np.zeros((9, 15, 2), np.float32)] * 3}
    np.savez_compressed(tmp_path / "data_3d_humaneva15.npz", positions_3d=pos3d)
    np.savez_compressed(tmp_path / "data_2d_humaneva15_gt.npz", positions_2d=pos2d,
                        metadata={"layout_name": "humaneva15", "num_joints": 15, "keypoints_symmetry": [LEFT, RIGHT]})
    return tmp_path


def test_load_humaneva_splits_skeleton_and_normalisation(humaneva_dir):
    ds = load_humaneva(humaneva_dir)
    assert ds.skeleton is HUMANEVA_15 and ds.fps == 60.0
    assert ds.splits == {"train": list(HUMANEVA_TRAIN_SUBJECTS), "test": list(HUMANEVA_TEST_SUBJECTS)}
    assert ds.unlabeled_subjects() == ["Unlabeled/S4"]
    seq = ds.sequence("Validate/S2", "Jog 1 chunk0", 1)
    assert seq.camera.res_w == 640 and seq.camera.res_h == 480
    expected = np.stack([seq.pixels[..., 0] / 320 - 1, seq.pixels[..., 1] / 320 - 0.75], -1)
    np.testing.assert_allclose(seq.x2d, expected, atol=1e-6)
    assert (seq.y3d[:, 0] == 0).all() and (seq.camera_abs[..., 2] > 3).all()
    T = ds.tensors("test", actions=HUMANEVA_EVAL_ACTIONS)
    assert {canonical_action(a) for a in T.actions} == {"Walking", "Jog", "Box"}
    assert T.num_sequences == 3 * 3 * 3 and T.num_frames == 27 * 6  # subjects x actions x cameras
    assert set(T.subjects) == set(HUMANEVA_TEST_SUBJECTS)
    assert T.keypoints_left == tuple(LEFT) and T.fps == 60.0
    assert ds.tensors("train").num_sequences == 3 * 4 * 3


def test_humaneva_errors(tmp_path, humaneva_dir):
    with pytest.raises(FileNotFoundError, match="data_3d_humaneva15.npz"):
        load_humaneva(tmp_path / "absent")
    ds = load_humaneva(humaneva_dir)
    # "Walk" is an alias of "Walking" now (test_protocol_action_names_are_aliases); a name nobody defines is refused
    with pytest.raises(DataError, match=r"unknown action\(s\) \['Running'\].*'Walking', 'Jog', 'Box', 'Gestures'"):
        ds.tensors("test", actions=["Running"])


def test_humaneva_cameras_look_at_the_capture_volume():
    assert set(HUMANEVA_CAMERAS) == {"S1", "S2", "S3"}
    body = np.array([[0, 0, 0.0], [0, 0, 1.0], [0, 0, 1.8]])
    for sid, cams in HUMANEVA_CAMERAS.items():
        assert [c.id for c in cams] == ["C1", "C2", "C3"]
        for c in cams:
            Xc = world_to_camera(body, c)
            assert (Xc[:, 2] > 3).all() and (Xc[:, 2] < 6).all()
            uv = project_to_image(Xc, c)
            assert ((uv > 0) & (uv < [640, 480])).all() and uv[0, 1] > uv[2, 1]
            np.testing.assert_allclose(c.R @ c.R.T, np.eye(3), atol=1e-5)
    # S3 reuses S1's calibration (as in VideoPose3D)
    for a, b in zip(HUMANEVA_CAMERAS["S1"], HUMANEVA_CAMERAS["S3"]):
        np.testing.assert_allclose(a.translation, b.translation, atol=1e-6)


def test_humaneva_tables_are_consistent():
    for sid in ("S1", "S2", "S3"):
        assert set(HUMANEVA_FRAME_OFFSETS[sid]) == set(HUMANEVA_ACTIONS)
        for action in HUMANEVA_ACTIONS:
            val = HUMANEVA_TRIAL1_RANGES["Validate"][sid][action]
            train = HUMANEVA_TRIAL1_RANGES["Train"][sid][action]
            assert val[0] == 5 and val[1] == train[0] < train[1]  # Validate ends where Train begins
            offsets = HUMANEVA_FRAME_OFFSETS[sid][action]
            assert len(offsets) == 3 and max(offsets) - min(offsets) <= 2  # cameras nearly in sync
    assert HUMANEVA_TRIAL1_RANGES["Train"]["S1"]["Walking"] == (590, 1203)
    assert HUMANEVA_FRAME_OFFSETS["S2"]["Box"] == (119, 119, 117)


# ------------------------------------------------------------------ detections in another joint set
# COCO-17 indices typed out from the COCO keypoint definition
NOSE, L_EYE, R_EYE, L_EAR, R_EAR, L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI, L_HIP, R_HIP, L_KNE, R_KNE, L_ANK, R_ANK = \
    range(17)


def humaneva15_from_coco_by_hand(c):
    """HumanEva-15 pixels from COCO-17 pixels ``c (N, 17, 2)``: pelvis = mid-hip, thorax = mid-shoulder, head top
    = mid-ear + 0.5 (mid-ear - mid-shoulder), the rest directly; in HumanEva's joint order."""
    mid_hip = (c[:, L_HIP] + c[:, R_HIP]) / 2
    mid_sho = (c[:, L_SHO] + c[:, R_SHO]) / 2
    mid_ear = (c[:, L_EAR] + c[:, R_EAR]) / 2
    head = mid_ear + 0.5 * (mid_ear - mid_sho)
    return np.stack([mid_hip, mid_sho, c[:, L_SHO], c[:, L_ELB], c[:, L_WRI], c[:, R_SHO], c[:, R_ELB], c[:, R_WRI],
                     c[:, L_HIP], c[:, L_KNE], c[:, L_ANK], c[:, R_HIP], c[:, R_KNE], c[:, R_ANK], head], axis=1)


@pytest.fixture
def coco_dir(tmp_path):
    """VideoPose3D's HumanEva layout with GT 2D and COCO-17 detections of the same synthetic 3D."""
    kw = dict(frames=5, seed=3)
    make_fake_humaneva(tmp_path, **kw)
    make_fake_humaneva(tmp_path, keypoints="detectron_pt_coco", layout="coco", **kw)  # same seed: same 3D
    return tmp_path


def test_coco_detections_are_mapped_to_the_15_joints(coco_dir):
    coco, meta = read_positions_2d(coco_dir / "data_2d_humaneva15_detectron_pt_coco.npz")
    assert meta["layout_name"] == "coco" and meta["num_joints"] == 17
    ds = load_humaneva(coco_dir, keypoints="detectron_pt_coco")
    gt = load_humaneva(coco_dir)
    assert ds.skeleton is HUMANEVA_15
    for s, a, c in ds.select():
        seq = ds.sequence(s, a, c)
        expected = humaneva15_from_coco_by_hand(coco[s][a][c].astype(np.float64))
        np.testing.assert_allclose(seq.pixels, expected, rtol=1e-6, atol=1e-3)
        np.testing.assert_array_equal(seq.world, gt.sequence(s, a, c).world)      # the 3D is untouched
    # the limb joints are the GT 2D's (the fixture's COCO limbs are the same 3D joints); the derived ones are not
    seq, ref = ds.sequence("Validate/S3", "Jog 1 chunk0", 2), gt.sequence("Validate/S3", "Jog 1 chunk0", 2)
    limbs = [2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]
    np.testing.assert_allclose(seq.pixels[:, limbs], ref.pixels[:, limbs], atol=1e-3)
    T = ds.tensors("test")
    assert T.x2d.shape[1] == T.y3d.shape[1] == 15                                 # a training pair, joint for joint
    assert (T.keypoints_left, T.keypoints_right) == (HUMANEVA_15.left, HUMANEVA_15.right)


def test_coco_layout_is_recognised_by_its_joint_count_without_a_name(tmp_path):
    make_fake_humaneva(tmp_path, frames=4, keypoints="named", layout="coco")
    p3, p2 = make_fake_humaneva(tmp_path, frames=4, keypoints="unnamed", layout="coco",
                                metadata={"layout_name": None})
    pos2, meta = read_positions_2d(p2)
    save_videopose3d(None, p2, None, pos2, {k: v for k, v in meta.items() if k != "layout_name"})
    named, unnamed = load_humaneva(tmp_path, "named"), load_humaneva(tmp_path, "unnamed")
    np.testing.assert_array_equal(unnamed.tensors("test").x2d, named.tensors("test").x2d)
    # 17 joints whose symmetry is not COCO's are some other layout: refused, naming both joint sets
    save_videopose3d(None, p2, None, pos2, {"num_joints": 17, "keypoints_symmetry": [[1, 2], [3, 4]]})
    with pytest.raises(DataError, match=r"data_2d_humaneva15_unnamed.npz has 17-joint 2D keypoints \(layout None\) "
                                        r"but the 3D has 15 joints \(humaneva15\); no mapping between them"):
        load_humaneva(tmp_path, "unnamed")


def test_real_mismatches_are_refused_at_load_naming_both_layouts(tmp_path):
    p3, p2 = make_fake_humaneva(tmp_path, frames=4, keypoints="openpose18", layout="coco")
    pos2, _ = read_positions_2d(p2)
    eighteen = {s: {a: [np.concatenate([v, v[:, :1]], 1) for v in views] for a, views in acts.items()}
                for s, acts in pos2.items()}
    save_videopose3d(None, p2, None, eighteen, {"layout_name": "openpose18", "keypoints_symmetry": [[1], [2]]})
    with pytest.raises(DataError, match=r"data_2d_humaneva15_openpose18.npz has 18-joint 2D keypoints \(layout "
                                        r"'openpose18'\) but the 3D has 15 joints \(humaneva15\); no mapping"):
        load_humaneva(tmp_path, keypoints="openpose18")


def test_protocol_action_names_are_aliases(coco_dir):
    ds = load_humaneva(coco_dir)
    short, full = ds.tensors("test", actions=["Walk", "Jog", "Box"]), ds.tensors("test", actions=HUMANEVA_EVAL_ACTIONS)
    assert (short.subjects, short.actions, short.cameras) == (full.subjects, full.actions, full.cameras)
    assert {canonical_action(a) for a in short.actions} == {"Walking", "Jog", "Box"}
    np.testing.assert_array_equal(short.x2d.numpy(), full.x2d.numpy())
    assert ds.select("train", actions="Walk") == ds.select("train", actions="Walking")
    assert ds.select("train", actions="Walk") and not set(ds.select("train", actions="Walk")) & set(
        ds.select("train", actions="Jog"))


def test_cli_refuses_a_mismatched_pair_with_one_line_and_status_2(tmp_path, capsys):
    from poselift_core.__main__ import main

    data = tmp_path / "he"
    make_fake_humaneva(data, frames=4, keypoints="gt")
    make_fake_humaneva(data, frames=4, keypoints="mpii16", metadata={"layout_name": "mpii", "num_joints": 15})
    p2 = data / "data_2d_humaneva15_mpii16.npz"
    pos2, _ = read_positions_2d(p2)
    sixteen = {s: {a: [np.concatenate([v, v[:, :1]], 1) for v in views] for a, views in acts.items()}
               for s, acts in pos2.items()}
    save_videopose3d(None, p2, None, sixteen, {"layout_name": "mpii", "keypoints_symmetry": [[1], [2]]})
    code = main(["train", "--recipe", "glagcn-humaneva-gt-27", "--profile", "quick", "--data", "humaneva",
                 "--data-dir", str(data), "--keypoints", "mpii16", "--out", str(tmp_path / "run"), "--epochs", "1"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "Traceback" not in err, err
    assert "data_2d_humaneva15_mpii16.npz has 16-joint 2D keypoints (layout 'mpii')" in err
    assert "the 3D has 15 joints (humaneva15)" in err

