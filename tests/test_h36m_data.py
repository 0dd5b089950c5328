"""Human3.6M as VideoPose3D distributes it (poselift_core.data.h36m): the camera table, the skipped and drift
sequences, the 16-joint variants and the fixture that imitates its files. The file format itself is tested in
``test_videopose3d.py``, whose reference projection and raw-file writer are reused here."""
import numpy as np
import pytest

from poselift_core.camera import project_to_image, world_to_camera
from poselift_core.data.fixtures import fake_pose_sequence, make_fake_h36m
from poselift_core.data.h36m import (H36M_17_TO_16, H36M_CAMERA_IDS, H36M_CAMERAS, load_h36m,
                                     load_videopose3d)
from poselift_core.data.videopose3d import DataError, read_positions_2d, save_videopose3d
from poselift_core.skeleton import H36M_16, H36M_17, H36M_32

from test_videopose3d import write_raw_pair  # the VideoPose3D layout written with plain numpy


# ------------------------------------------------------------------ the camera table
@pytest.mark.parametrize("subject", list(H36M_CAMERAS))
def test_subject_at_world_origin_is_in_front_of_every_camera(subject):
    # a standing person near the origin: feet, pelvis, head (Z up)
    body = np.array([[0, 0, 0.0], [0, 0, 0.9], [0, 0, 1.8], [0.5, 0.5, 1.0], [-0.5, -0.5, 1.0]])
    for cam in H36M_CAMERAS[subject]:
        Xc = world_to_camera(body, cam)
        assert (Xc[:, 2] > 3.0).all() and (Xc[:, 2] < 7.0).all()  # real Human3.6M root depths are ~4.5-6.7 m
        uv = project_to_image(Xc, cam)
        assert (uv > 0).all() and (uv[:, 0] < cam.res_w).all() and (uv[:, 1] < cam.res_h).all()
        assert uv[0, 1] > uv[2, 1]  # image y points down: feet below head


def test_h36m_table_units_and_ids():
    assert set(H36M_CAMERAS) == {"S1", "S5", "S6", "S7", "S8", "S9", "S11"}
    for cams in H36M_CAMERAS.values():
        assert [c.id for c in cams] == list(H36M_CAMERA_IDS)
        for c in cams:  # centres are metres (a few metres from the origin, ~1.5 m high)
            assert 3.0 < np.linalg.norm(c.translation[:2]) < 6.0 and 1.3 < c.translation[2] < 1.7
    assert H36M_CAMERAS["S1"][0].translation[0] == pytest.approx(1841.1070556640625 / 1000)
    assert [c.res_h for c in H36M_CAMERAS["S1"]] == [1002, 1000, 1000, 1002]
    assert H36M_CAMERAS["S1"][2].tangential == pytest.approx((0.0014843869721516967, -0.0007599993259645998))


def test_16_joint_selection_drops_only_the_nose():
    assert [H36M_17.names[j] for j in H36M_17_TO_16] == list(H36M_16.names)
    assert sorted(set(range(17)) - set(H36M_17_TO_16)) == [H36M_17.names.index("Neck/Nose")]


# ------------------------------------------------------------------ Human3.6M quirks
def test_s11_directions_is_skipped_but_directions_1_kept(tmp_path):
    rng = np.random.default_rng(3)
    poses = {"S11": {"Directions": fake_pose_sequence(4, rng), "Directions 1": fake_pose_sequence(5, rng)}}
    p3, p2, _ = write_raw_pair(tmp_path, poses)
    ds = load_videopose3d(p3, p2)
    assert ds.actions("S11") == ["Directions 1"]
    assert ds.tensors("S11", actions=["Directions"]).seq_length.tolist() == [5] * 4
    fake3, _ = make_fake_h36m(tmp_path / "fake", subjects=("S11",), actions=("Directions", "Walking"), frames=4)
    assert list(np.load(fake3, allow_pickle=True)["positions_3d"].item()["S11"]) == ["Walking"]


def test_drift_sequences_excluded_only_on_request(tmp_path):
    make_fake_h36m(tmp_path, subjects=("S1", "S9"), actions=("Greeting", "SittingDown 1", "Waiting 1", "Waiting"),
                   frames=5)
    ds = load_h36m(tmp_path)
    full = ds.tensors(["S9"])
    kept = ds.tensors(["S9"], exclude_drift=True)
    assert full.num_sequences == 16 and kept.num_sequences == 4
    assert set(kept.actions) == {"Waiting"}
    assert ds.tensors("S1", exclude_drift=True).num_sequences == 16  # S1 Greeting is not drift
    assert ds.splits == {"train": ["S1", "S5", "S6", "S7", "S8"], "test": ["S9", "S11"]}


def test_16_joint_variants(tmp_path):
    make_fake_h36m(tmp_path / "a", subjects=("S1",), actions=("Eating",), frames=5, seed=4)
    make_fake_h36m(tmp_path / "b", subjects=("S1",), actions=("Eating",), frames=5, seed=4, joints_2d=16)
    ds17 = load_h36m(tmp_path / "a")
    ds16 = load_h36m(tmp_path / "a", joints=16)  # 17-joint 2D file, Nose dropped on load
    ds16b = load_h36m(tmp_path / "b", joints=16)  # SemGCN-style 16-joint file
    no_nose = [j for j in range(17) if j != 9]
    for ds in (ds16, ds16b):
        assert ds.skeleton is H36M_16
        seq, ref = ds.sequence("S1", "Eating", 2), ds17.sequence("S1", "Eating", 2)
        np.testing.assert_allclose(seq.x2d, ref.x2d[:, no_nose], atol=1e-6)
        np.testing.assert_allclose(seq.y3d, ref.y3d[:, no_nose], atol=1e-6)
        T = ds.tensors("S1")
        assert T.keypoints_left == H36M_16.left and T.x2d.shape[1] == 16 and T.y3d.shape[1] == 16
    with pytest.raises(DataError, match=r"data_2d_h36m_gt.npz has 16-joint 2D keypoints .* joints=16"):
        load_h36m(tmp_path / "b", joints=17)


def test_stacked_hourglass_mpii_order_is_permuted(tmp_path):
    p3, p2 = make_fake_h36m(tmp_path, subjects=("S1",), actions=("Eating",), frames=4, joints_2d=16)
    pos2, _ = read_positions_2d(p2)
    perm = [6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10]  # h36m16[i] = mpii[perm[i]]
    inverse = np.argsort(perm)
    mpii = {"S1": {"Eating": [v[:, inverse] for v in pos2["S1"]["Eating"]]}}
    save_videopose3d(None, tmp_path / "data_2d_h36m_sh_ft_h36m.npz", None, mpii,
                     {"layout_name": "mpii", "num_joints": 16,
                      "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]})
    ds = load_h36m(tmp_path, keypoints="sh_ft_h36m", joints=16)
    np.testing.assert_allclose(ds.sequence("S1", "Eating", 0).pixels, pos2["S1"]["Eating"][0])


def test_fixture_has_symmetric_bones_near_origin(tmp_path):
    p3, _ = make_fake_h36m(tmp_path, subjects=("S7",), actions=("Walking",), frames=20, seed=7)
    X = np.load(p3, allow_pickle=True)["positions_3d"].item()["S7"]["Walking"]
    assert X.shape == (20, 32, 3)
    bone = lambda j: np.linalg.norm(X[:, j] - X[:, H36M_32.parents[j]], axis=-1)  # noqa: E731
    for l, r in zip(H36M_32.left, H36M_32.right):
        np.testing.assert_allclose(bone(l), bone(r), atol=1e-5)
    assert np.abs(X[:, 0, :2]).max() < 1.0 and (X[..., 2] > -0.2).all()
    assert np.abs(np.diff(X, axis=0)).max() < 0.15  # smooth: < 15 cm per frame

