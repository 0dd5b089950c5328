import numpy as np
import pytest

from poselift_core.camera import project_to_image, world_to_camera
from poselift_core.data import DataError, canonical_action
from poselift_core.data.humaneva import (HUMANEVA_ACTIONS, HUMANEVA_CAMERAS, HUMANEVA_EVAL_ACTIONS,
                                         HUMANEVA_FRAME_OFFSETS, HUMANEVA_TEST_SUBJECTS, HUMANEVA_TRAIN_SUBJECTS,
                                         HUMANEVA_TRIAL1_RANGES, load_humaneva)
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
    with pytest.raises(DataError, match=r"unknown action\(s\) \['Walk'\].*'Walking', 'Jog', 'Box', 'Gestures'"):
        ds.tensors("test", actions=["Walk"])


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
