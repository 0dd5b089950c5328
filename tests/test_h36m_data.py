import numpy as np
import pytest
import torch

from poselift_core.camera import H36M_CAMERAS, Camera
from poselift_core.data import h36m
from poselift_core.data.fixtures import fake_pose_sequence, make_fake_h36m
from poselift_core.data.h36m import (H36M_ACTIONS, DataError, canonical_action, cameras_from_dict, cameras_to_dict,
                                     load_h36m, load_sample, load_videopose3d, sample_splits, save_videopose3d)
from poselift_core.skeleton import H36M_16, H36M_17, H36M_32

KEEP_17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]  # VideoPose3D's 17 of 32, typed out again


# ------------------------------------------------------------------ independent reference (chapter 2, "Cameras")
def ref_world_to_camera(Xw, cam):
    """Conjugate-quaternion rotation v + 2w (u x v) + 2 u x (u x v), u = -q_xyz, applied to X - t."""
    q = np.array(cam.orientation) / np.linalg.norm(cam.orientation)
    w, u = q[0], -q[1:]
    v = Xw - np.array(cam.translation)
    uv = np.cross(u, v)
    return v + 2 * w * uv + 2 * np.cross(u, uv)


def ref_pixels(Xc, cam):
    x = np.clip(Xc[..., 0] / Xc[..., 2], -1, 1)
    y = np.clip(Xc[..., 1] / Xc[..., 2], -1, 1)
    k1, k2, k3 = cam.radial
    p1, p2 = cam.tangential
    r2 = x ** 2 + y ** 2
    radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
    tan = p1 * x + p2 * y
    u = cam.focal[0] * (x * (radial + tan) + p1 * r2) + cam.center[0]
    v = cam.focal[1] * (y * (radial + tan) + p2 * r2) + cam.center[1]
    return np.stack([u, v], -1)


def ref_normalize(uv, cam):
    return np.stack([uv[..., 0] / cam.res_w * 2 - 1, uv[..., 1] / cam.res_w * 2 - cam.res_h / cam.res_w], -1)


def write_raw_pair(tmp_path, poses32, extra=0, names=("data_3d_h36m.npz", "data_2d_h36m_gt.npz"), meta=None):
    """Files written with plain np.savez_compressed, exactly as VideoPose3D lays them out."""
    pos2d = {s: {a: [ref_pixels(ref_world_to_camera(np.concatenate([X, X[-1:].repeat(extra, 0)])[:, KEEP_17]
                                                     .astype(np.float64), cam), cam).astype(np.float32)
                     for cam in H36M_CAMERAS[s]] for a, X in acts.items()} for s, acts in poses32.items()}
    metadata = meta or {"num_joints": 17, "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    np.savez_compressed(tmp_path / names[0], positions_3d=poses32)
    np.savez_compressed(tmp_path / names[1], positions_2d=pos2d, metadata=metadata)
    return tmp_path / names[0], tmp_path / names[1], pos2d


@pytest.fixture
def raw_pair(tmp_path):
    rng = np.random.default_rng(0)
    poses = {"S1": {"Walking": fake_pose_sequence(9, rng), "Sitting 1": fake_pose_sequence(7, rng)},
             "S9": {"Greeting": fake_pose_sequence(5, rng)}}
    p3, p2, pos2d = write_raw_pair(tmp_path, poses)
    return p3, p2, poses, pos2d


# ------------------------------------------------------------------ loading the real layout
def test_loader_matches_independent_projection(raw_pair):
    p3, p2, poses, pos2d = raw_pair
    ds = load_videopose3d(p3, p2)
    assert ds.skeleton is H36M_17 and ds.subjects() == ["S1", "S9"]
    assert ds.actions("S1") == ["Walking", "Sitting 1"]
    for s, acts in poses.items():
        for a, X32 in acts.items():
            for c, cam in enumerate(H36M_CAMERAS[s]):
                seq = ds.sequence(s, a, c)
                cam_abs = ref_world_to_camera(X32[:, KEEP_17].astype(np.float64), cam)
                np.testing.assert_allclose(seq.world, X32[:, KEEP_17])
                np.testing.assert_allclose(seq.camera_abs, cam_abs, atol=1e-5)
                np.testing.assert_allclose(seq.pixels, pos2d[s][a][c])
                np.testing.assert_allclose(seq.x2d, ref_normalize(pos2d[s][a][c].astype(np.float64), cam), atol=1e-6)
                np.testing.assert_allclose(seq.y3d, cam_abs - cam_abs[:, :1], atol=1e-5)
                assert (seq.y3d[:, 0] == 0).all()
                np.testing.assert_allclose(seq.root, cam_abs[:, 0], atol=1e-5)
                # the loader's camera-space 3D re-projects onto its 2D (well under 0.1 px on real Human3.6M frames)
                assert np.abs(ref_pixels(seq.camera_abs.astype(np.float64), cam) - seq.pixels).max() < 2e-3
                assert (seq.camera_abs[..., 2] > 0).all()


def test_tensors_layout_matches_sequences(raw_pair):
    p3, p2, poses, _ = raw_pair
    ds = load_videopose3d(p3, p2)
    T = ds.tensors(["S1", "S9"], device="cpu")
    assert T.num_sequences == 12 and T.num_frames == 4 * (9 + 7 + 5)
    assert T.subjects == ["S1"] * 8 + ["S9"] * 4
    assert T.actions[:8] == ["Walking"] * 4 + ["Sitting 1"] * 4 and T.cameras[:4] == [0, 1, 2, 3]
    assert T.seq_start.tolist() == np.concatenate([[0], np.cumsum(T.seq_length.tolist())[:-1]]).tolist()
    assert T.seq_length.tolist() == [9] * 4 + [7] * 4 + [5] * 4
    assert (T.y3d[:, 0] == 0).all() and T.y3d.dtype == torch.float32
    for i, (s, a, c) in enumerate(zip(T.subjects, T.actions, T.cameras)):
        rows = slice(int(T.seq_start[i]), int(T.seq_start[i] + T.seq_length[i]))
        assert (T.frame_seq[rows] == i).all()
        seq = ds.sequence(s, a, c)
        np.testing.assert_array_equal(T.x2d[rows].numpy(), seq.x2d)
        np.testing.assert_array_equal(T.y3d[rows].numpy(), seq.y3d)
        np.testing.assert_array_equal(T.root[rows].numpy(), seq.root)
        np.testing.assert_allclose(T.intrinsics[i].numpy(), H36M_CAMERAS[s][c].intrinsics_normalized().numpy())
    assert T.keypoints_left == (4, 5, 6, 11, 12, 13) and T.keypoints_right == (1, 2, 3, 14, 15, 16)
    assert T.fps == 50.0 and T.skeleton is H36M_17


def test_writer_produces_the_videopose3d_layout(tmp_path):
    rng = np.random.default_rng(1)
    p3d = {"S5": {"Eating": fake_pose_sequence(6, rng).astype(np.float64)}}
    p2d = {"S5": {"Eating": [rng.uniform(0, 1000, (6, 17, 2)) for _ in range(4)]}}
    cams = {"S5": H36M_CAMERAS["S5"]}
    out3, out2 = save_videopose3d(tmp_path / "a3", tmp_path / "sub" / "a2", p3d, p2d, {"layout_name": "h36m"}, cams)
    assert out3.name == "a3.npz" and out2.name == "a2.npz"
    raw3, raw2 = np.load(out3, allow_pickle=True), np.load(out2, allow_pickle=True)
    assert sorted(raw3.files) == ["cameras", "positions_3d"] and sorted(raw2.files) == ["metadata", "positions_2d"]
    for f in (raw3["positions_3d"], raw3["cameras"], raw2["positions_2d"], raw2["metadata"]):
        assert f.dtype == object and f.shape == ()
    x = raw3["positions_3d"].item()["S5"]["Eating"]
    assert x.dtype == np.float32 and x.shape == (6, 32, 3)
    views = raw2["positions_2d"].item()["S5"]["Eating"]
    assert isinstance(views, list) and len(views) == 4 and views[2].dtype == np.float32
    np.testing.assert_allclose(views[2], p2d["S5"]["Eating"][2].astype(np.float32))
    meta = raw2["metadata"].item()
    assert meta == {"layout_name": "h36m", "num_joints": 17,
                    "keypoints_symmetry": [[4, 5, 6, 11, 12, 13], [1, 2, 3, 14, 15, 16]]}
    assert cameras_from_dict(raw3["cameras"].item()) == cams
    with pytest.raises(DataError, match=r"positions_3d\['S5'\]\['Eating'\] has shape \(6, 32\)"):
        save_videopose3d(tmp_path / "b3", None, {"S5": {"Eating": np.zeros((6, 32))}}, None)


def test_cameras_key_in_3d_file_overrides_builtin_table(tmp_path):
    rng = np.random.default_rng(2)
    custom = [Camera(f"c{i}", 640, 480, focal=(500, 500), center=(320, 240),
                     orientation=H36M_CAMERAS["S1"][i].orientation, translation=H36M_CAMERAS["S1"][i].translation)
              for i in range(2)]
    X = fake_pose_sequence(4, rng)
    pix = [ref_pixels(ref_world_to_camera(X[:, KEEP_17].astype(np.float64), c), c) for c in custom]
    p3, p2 = save_videopose3d(tmp_path / "m3", tmp_path / "m2", {"mocap01": {"walk": X}},
                              {"mocap01": {"walk": pix}}, {"fps": 30, "splits": {"train": ["mocap01"], "test": []}},
                              cameras={"mocap01": custom})
    ds = load_videopose3d(p3, p2)
    assert ds.cameras("mocap01") == custom and ds.fps == 30.0
    assert ds.splits == {"train": ["mocap01"], "test": []}
    np.testing.assert_allclose(ds.sequence("mocap01", "walk", 1).x2d, ref_normalize(pix[1], custom[1]), atol=1e-6)
    assert ds.tensors("train").num_sequences == 2  # a split name selects its subjects
    assert cameras_from_dict(cameras_to_dict({"x": custom})) == {"x": custom}


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


def test_action_filter_compares_canonical_names(tmp_path):
    make_fake_h36m(tmp_path, subjects=("S1",), actions=("Sitting 1", "Sitting 2", "SittingDown", "Walking"),
                   frames=6)
    ds = load_h36m(tmp_path)
    assert set(ds.tensors("S1", actions=["Sitting"]).actions) == {"Sitting 1", "Sitting 2"}
    assert set(ds.tensors("S1", actions="SittingDown").actions) == {"SittingDown"}
    assert set(ds.tensors("S1", actions=["Sitting 2"]).actions) == {"Sitting 2"}
    assert ds.canonical_actions() == ["Sitting", "SittingDown", "Walking"]
    assert canonical_action("SittingDown 2") == "SittingDown" and canonical_action("Walking 1 chunk0") == "Walking"
    assert len(H36M_ACTIONS) == 15 and H36M_ACTIONS[8:10] == ("Sitting", "SittingDown")


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


def test_longer_detections_are_cropped_to_mocap(tmp_path):
    p3, p2 = make_fake_h36m(tmp_path, subjects=("S5",), actions=("Phoning",), frames=8, extra_2d_frames=3,
                            keypoints="cpn_ft_h36m_dbb", metadata={"layout_name": "h36m"})
    raw = np.load(p2, allow_pickle=True)["positions_2d"].item()["S5"]["Phoning"]
    assert len(raw[0]) == 11
    ds = load_h36m(tmp_path, keypoints="cpn_ft_h36m_dbb")
    for c in range(4):
        np.testing.assert_array_equal(ds.sequence("S5", "Phoning", c).pixels, raw[c][:8])
    assert ds.tensors("S5").num_frames == 4 * 8


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
    pos2, _ = h36m.read_positions_2d(p2)
    perm = [6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10]  # h36m16[i] = mpii[perm[i]]
    inverse = np.argsort(perm)
    mpii = {"S1": {"Eating": [v[:, inverse] for v in pos2["S1"]["Eating"]]}}
    save_videopose3d(None, tmp_path / "data_2d_h36m_sh_ft_h36m.npz", None, mpii,
                     {"layout_name": "mpii", "num_joints": 16,
                      "keypoints_symmetry": [[3, 4, 5, 13, 14, 15], [0, 1, 2, 10, 11, 12]]})
    ds = load_h36m(tmp_path, keypoints="sh_ft_h36m", joints=16)
    np.testing.assert_allclose(ds.sequence("S1", "Eating", 0).pixels, pos2["S1"]["Eating"][0])


def test_unlabeled_2d_subjects_are_kept_aside(tmp_path):
    p3, p2 = make_fake_h36m(tmp_path, subjects=("S1",), actions=("Eating",), frames=4)
    pos2, meta = h36m.read_positions_2d(p2)
    pos2["S2"] = {"Eating": [np.zeros((7, 17, 2), np.float32)] * 4}
    save_videopose3d(None, p2, None, pos2, meta)
    ds = load_h36m(tmp_path)
    assert ds.subjects() == ["S1"] and ds.unlabeled_subjects() == ["S2"]


def test_fixture_has_symmetric_bones_near_origin(tmp_path):
    p3, _ = make_fake_h36m(tmp_path, subjects=("S7",), actions=("Walking",), frames=20, seed=7)
    X = np.load(p3, allow_pickle=True)["positions_3d"].item()["S7"]["Walking"]
    assert X.shape == (20, 32, 3)
    bone = lambda j: np.linalg.norm(X[:, j] - X[:, H36M_32.parents[j]], axis=-1)  # noqa: E731
    for l, r in zip(H36M_32.left, H36M_32.right):
        np.testing.assert_allclose(bone(l), bone(r), atol=1e-5)
    assert np.abs(X[:, 0, :2]).max() < 1.0 and (X[..., 2] > -0.2).all()
    assert np.abs(np.diff(X, axis=0)).max() < 0.15  # smooth: < 15 cm per frame


# ------------------------------------------------------------------ clear errors
def test_missing_file_and_key(tmp_path, raw_pair):
    p3, p2, _, _ = raw_pair
    with pytest.raises(FileNotFoundError, match="nowhere/data_3d_h36m.npz"):
        load_h36m(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_videopose3d(tmp_path / "missing.npz", p2)
    np.savez_compressed(tmp_path / "bad.npz", poses=np.zeros(3))
    with pytest.raises(DataError, match=r"bad.npz has no key 'positions_3d'; keys present: \['poses'\]"):
        load_videopose3d(tmp_path / "bad.npz", p2)
    np.savez_compressed(tmp_path / "nometa.npz", positions_2d={})
    with pytest.raises(DataError, match=r"nometa.npz has no key 'metadata'"):
        load_videopose3d(p3, tmp_path / "nometa.npz")


def test_wrong_joint_count(tmp_path):
    np.savez_compressed(tmp_path / "a3.npz", positions_3d={"S1": {"Walking": np.zeros((5, 20, 3), np.float32)}})
    make_fake_h36m(tmp_path, subjects=("S1",), actions=("Walking",), frames=5)
    with pytest.raises(DataError, match=r"a3.npz: subject 'S1' action 'Walking' has shape \(5, 20, 3\)"):
        load_videopose3d(tmp_path / "a3.npz", tmp_path / "data_2d_h36m_gt.npz", joints=17)
    pos2, meta = h36m.read_positions_2d(tmp_path / "data_2d_h36m_gt.npz")
    pos2["S1"]["Walking"][3] = np.zeros((5, 15, 2), np.float32)
    np.savez_compressed(tmp_path / "b2.npz", positions_2d=pos2, metadata=meta)
    with pytest.raises(DataError, match=r"b2.npz: 2D joint counts disagree .*camera 3: \(5, 15, 2\)"):
        load_videopose3d(tmp_path / "data_3d_h36m.npz", tmp_path / "b2.npz")


def test_non_finite_keypoints_name_the_first_bad_frame(tmp_path):
    make_fake_h36m(tmp_path, subjects=("S1",), actions=("Walking",), frames=6)
    pos2, meta = h36m.read_positions_2d(tmp_path / "data_2d_h36m_gt.npz")
    pos2["S1"]["Walking"][2][4, 7, 1] = np.nan
    pos2["S1"]["Walking"][2][5, 0, 0] = np.inf
    np.savez_compressed(tmp_path / "nan.npz", positions_2d=pos2, metadata=meta)
    with pytest.raises(DataError, match=r"nan.npz: subject 'S1' action 'Walking' camera 2 has NaN/inf keypoints "
                                        r"at frame 4"):
        load_videopose3d(tmp_path / "data_3d_h36m.npz", tmp_path / "nan.npz")


def test_2d_shorter_than_3d(tmp_path):
    make_fake_h36m(tmp_path, subjects=("S1",), actions=("Walking",), frames=6)
    pos2, meta = h36m.read_positions_2d(tmp_path / "data_2d_h36m_gt.npz")
    pos2["S1"]["Walking"][1] = pos2["S1"]["Walking"][1][:4]
    np.savez_compressed(tmp_path / "short.npz", positions_2d=pos2, metadata=meta)
    with pytest.raises(DataError, match=r"camera 1 has 4 2D frames, fewer than the 6 3D frames"):
        load_videopose3d(tmp_path / "data_3d_h36m.npz", tmp_path / "short.npz")


def test_unknown_subject_action_camera(tmp_path):
    make_fake_h36m(tmp_path, subjects=("S1", "S9"), actions=("Walking", "Eating 1"), frames=4)
    ds = load_h36m(tmp_path)
    with pytest.raises(DataError, match=r"unknown subject\(s\) \['S5'\]; available: \['S1', 'S9'\]"):
        ds.tensors(["S1", "S5"])
    with pytest.raises(DataError, match=r"unknown subject\(s\) \['S5', 'S6', 'S7', 'S8'\]"):
        ds.tensors("train")
    with pytest.raises(DataError, match=r"unknown action\(s\) \['Sitting'\].*available: \['Walking', 'Eating'\]"):
        ds.tensors("S1", actions=["Sitting", "Walking"])
    with pytest.raises(DataError, match=r"subject 'S9' has no action 'Walk'; available: \['Walking', 'Eating 1'\]"):
        ds.sequence("S9", "Walk", 0)
    with pytest.raises(DataError, match=r"no camera 4; indices 0..3"):
        ds.sequence("S9", "Walking", 4)
    assert ds.sequence("S9", "Walking", "58860488").camera_index == 2


def test_2d_and_3d_files_disagree(tmp_path):
    make_fake_h36m(tmp_path / "a", subjects=("S1", "S5"), actions=("Walking", "Eating"), frames=4)
    make_fake_h36m(tmp_path / "b", subjects=("S1",), actions=("Walking",), frames=4)
    with pytest.raises(DataError, match=r"b/data_2d_h36m_gt.npz lacks 2D for 3 \(subject, action\) pairs .*"
                                        r"\('S1', 'Eating'\)"):
        load_videopose3d(tmp_path / "a" / "data_3d_h36m.npz", tmp_path / "b" / "data_2d_h36m_gt.npz")
    pos2, meta = h36m.read_positions_2d(tmp_path / "a" / "data_2d_h36m_gt.npz")
    pos2["S5"]["Walking"] = pos2["S5"]["Walking"][:3]
    np.savez_compressed(tmp_path / "three.npz", positions_2d=pos2, metadata=meta)
    with pytest.raises(DataError, match=r"subject 'S5' action 'Walking' has 3 camera views but 4 cameras"):
        load_videopose3d(tmp_path / "a" / "data_3d_h36m.npz", tmp_path / "three.npz")
    p3, p2 = save_videopose3d(tmp_path / "c3", tmp_path / "c2", {"S3": {"Walking": np.zeros((4, 32, 3))}},
                              {"S3": {"Walking": [np.zeros((4, 17, 2))] * 4}})
    with pytest.raises(DataError, match=r"no cameras for subject 'S3' of .*c3.npz; cameras known for \['S1', "):
        load_videopose3d(p3, p2)


# ------------------------------------------------------------------ the bundled sample
def test_missing_sample_names_path_and_rebuild_command(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"data_3d_sample.npz.*python -m poselift_core.data build-sample"):
        load_sample(tmp_path)


def test_sample_splits_from_metadata(tmp_path, monkeypatch):
    root = tmp_path / "data" / "sample"
    p3, p2 = make_fake_h36m(tmp_path / "tmp", subjects=("S1", "S9"), actions=("Walking",), frames=4,
                            metadata={"splits": {"train": ["S1"], "test": ["S9"]}, "fps": 50})
    root.mkdir(parents=True)
    p3.rename(root / "data_3d_sample.npz")
    p2.rename(root / "data_2d_sample_gt.npz")
    ds = load_sample(root)
    assert ds.splits == {"train": ["S1"], "test": ["S9"]} and sample_splits(root)["test"] == ["S9"]
    assert ds.tensors("test").subjects == ["S9"] * 4
    monkeypatch.setattr(h36m, "_REPO_ROOT", tmp_path)
    from poselift_core.data import SAMPLE_TEST_SUBJECTS, SAMPLE_TRAIN_SUBJECTS
    assert SAMPLE_TRAIN_SUBJECTS == ("S1",) and SAMPLE_TEST_SUBJECTS == ("S9",)


@pytest.mark.skipif(not all(p.is_file() for p in h36m.sample_paths()), reason="bundled sample not built yet")
def test_bundled_sample_is_consistent():
    ds = load_sample()
    splits = sample_splits()
    assert set(splits["train"] + splits["test"]) == set(ds.subjects())
    for s in ds.subjects():
        for a in ds.actions(s)[:2]:
            for c, cam in enumerate(ds.cameras(s)):
                seq = ds.sequence(s, a, c)
                assert (seq.camera_abs[..., 2] > 0).all()
                assert np.abs(ref_pixels(seq.camera_abs.astype(np.float64), cam) - seq.pixels).max() < 0.01
