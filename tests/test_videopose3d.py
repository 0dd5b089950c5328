"""The VideoPose3D file format and PoseDataset (poselift_core.data.videopose3d).

Files are written here with plain ``np.savez_compressed`` exactly as VideoPose3D lays them out, and every number
the loader gives is compared with an independent computation (quaternion rotation, the Human3.6M projection
written out step by step). Human3.6M's own conventions (cameras, skipped sequences, 16 joints) are in
``test_h36m_data.py``.
"""
import numpy as np
import pytest
import torch

from poselift_core.camera import Camera
from poselift_core.data.fixtures import fake_coco_points, fake_pose_sequence, make_fake_h36m
from poselift_core.data.h36m import H36M_ACTIONS, H36M_CAMERAS, load_h36m, load_videopose3d
from poselift_core.data.videopose3d import (DataError, PoseDataset, canonical_action, cameras_from_dict,
                                            cameras_to_dict, file_kind, load_file_pair, open_npz,
                                            read_positions_2d, require_files, save_videopose3d)
from poselift_core.skeleton import H36M_16, H36M_17

KEEP_17 = [0, 1, 2, 3, 6, 7, 8, 12, 13, 14, 15, 17, 18, 19, 25, 26, 27]  # VideoPose3D's 17 of 32, typed out again
# COCO-17 indices, typed out from the COCO keypoint definition (nose, eyes, ears, shoulders, ..., ankles).
NOSE, L_EAR, R_EAR, L_SHO, R_SHO, L_ELB, R_ELB, L_WRI, R_WRI, L_HIP, R_HIP, L_KNE, R_KNE, L_ANK, R_ANK = (
    0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16)


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


# ------------------------------------------------------------------ selection and cropping
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


def test_longer_detections_are_cropped_to_mocap(tmp_path):
    p3, p2 = make_fake_h36m(tmp_path, subjects=("S5",), actions=("Phoning",), frames=8, extra_2d_frames=3,
                            keypoints="cpn_ft_h36m_dbb", metadata={"layout_name": "h36m"})
    raw = np.load(p2, allow_pickle=True)["positions_2d"].item()["S5"]["Phoning"]
    assert len(raw[0]) == 11
    ds = load_h36m(tmp_path, keypoints="cpn_ft_h36m_dbb")
    for c in range(4):
        np.testing.assert_array_equal(ds.sequence("S5", "Phoning", c).pixels, raw[c][:8])
    assert ds.tensors("S5").num_frames == 4 * 8


def test_unlabeled_2d_subjects_are_kept_aside(tmp_path):
    p3, p2 = make_fake_h36m(tmp_path, subjects=("S1",), actions=("Eating",), frames=4)
    pos2, meta = read_positions_2d(p2)
    pos2["S2"] = {"Eating": [np.zeros((7, 17, 2), np.float32)] * 4}
    save_videopose3d(None, p2, None, pos2, meta)
    ds = load_h36m(tmp_path)
    assert ds.subjects() == ["S1"] and ds.unlabeled_subjects() == ["S2"]


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
    pos2, meta = read_positions_2d(tmp_path / "data_2d_h36m_gt.npz")
    pos2["S1"]["Walking"][3] = np.zeros((5, 15, 2), np.float32)
    np.savez_compressed(tmp_path / "b2.npz", positions_2d=pos2, metadata=meta)
    with pytest.raises(DataError, match=r"b2.npz: 2D joint counts disagree .*camera 3: \(5, 15, 2\)"):
        load_videopose3d(tmp_path / "data_3d_h36m.npz", tmp_path / "b2.npz")


def test_non_finite_keypoints_name_the_first_bad_frame(tmp_path):
    make_fake_h36m(tmp_path, subjects=("S1",), actions=("Walking",), frames=6)
    pos2, meta = read_positions_2d(tmp_path / "data_2d_h36m_gt.npz")
    pos2["S1"]["Walking"][2][4, 7, 1] = np.nan
    pos2["S1"]["Walking"][2][5, 0, 0] = np.inf
    np.savez_compressed(tmp_path / "nan.npz", positions_2d=pos2, metadata=meta)
    with pytest.raises(DataError, match=r"nan.npz: subject 'S1' action 'Walking' camera 2 has NaN/inf keypoints "
                                        r"at frame 4"):
        load_videopose3d(tmp_path / "data_3d_h36m.npz", tmp_path / "nan.npz")


def test_2d_shorter_than_3d(tmp_path):
    make_fake_h36m(tmp_path, subjects=("S1",), actions=("Walking",), frames=6)
    pos2, meta = read_positions_2d(tmp_path / "data_2d_h36m_gt.npz")
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
    pos2, meta = read_positions_2d(tmp_path / "a" / "data_2d_h36m_gt.npz")
    pos2["S5"]["Walking"] = pos2["S5"]["Walking"][:3]
    np.savez_compressed(tmp_path / "three.npz", positions_2d=pos2, metadata=meta)
    with pytest.raises(DataError, match=r"subject 'S5' action 'Walking' has 3 camera views but 4 cameras"):
        load_videopose3d(tmp_path / "a" / "data_3d_h36m.npz", tmp_path / "three.npz")
    p3, p2 = save_videopose3d(tmp_path / "c3", tmp_path / "c2", {"S3": {"Walking": np.zeros((4, 32, 3))}},
                              {"S3": {"Walking": [np.zeros((4, 17, 2))] * 4}})
    with pytest.raises(DataError, match=r"no cameras for subject 'S3' of .*c3.npz; cameras known for \['S1', "):
        load_videopose3d(p3, p2)


# ------------------------------------------------------------------ the generic loader and 2D layouts
def coco_to_h36m17_by_hand(c):
    """Human3.6M-17 pixels made from COCO-17 pixels ``c (..., 17, 2)`` with the documented recipe, typed out."""
    mid = lambda a, b: (c[..., a, :] + c[..., b, :]) / 2  # noqa: E731
    head = 0.75 * (c[..., L_EAR, :] + c[..., R_EAR, :]) - 0.25 * (c[..., L_SHO, :] + c[..., R_SHO, :])
    spine = (c[..., L_HIP, :] + c[..., R_HIP, :] + c[..., L_SHO, :] + c[..., R_SHO, :]) / 4
    rows = [mid(L_HIP, R_HIP), c[..., R_HIP, :], c[..., R_KNE, :], c[..., R_ANK, :], c[..., L_HIP, :],
            c[..., L_KNE, :], c[..., L_ANK, :], spine, mid(L_SHO, R_SHO), c[..., NOSE, :], head, c[..., L_SHO, :],
            c[..., L_ELB, :], c[..., L_WRI, :], c[..., R_SHO, :], c[..., R_ELB, :], c[..., R_WRI, :]]
    return np.stack(rows, axis=-2)


def test_file_kind_and_require_files(raw_pair, tmp_path):
    p3, p2, _, _ = raw_pair
    with open_npz(p3) as a, open_npz(p2) as b:
        assert (file_kind(a), file_kind(b)) == ("3D", "2D")
    np.savez_compressed(tmp_path / "w.npz", weights=np.zeros(2))
    with open_npz(tmp_path / "w.npz") as w:
        assert file_kind(w) is None
    assert require_files([str(p3), p2], "hint") == (p3, p2)
    with pytest.raises(FileNotFoundError, match=r"no such data file: .*gone.npz \(run the builder\)"):
        require_files([p3, tmp_path / "gone.npz"], "run the builder")


def test_load_file_pair_assumes_nothing_about_the_dataset(raw_pair, tmp_path):
    p3, p2, poses, pos2d = raw_pair
    with pytest.raises(DataError, match=r"data_3d_h36m.npz stores no cameras and none were given"):
        load_file_pair(p3, p2)
    # VideoPose3D's 32 mocap joints next to 17-joint 2D: only Human3.6M's loader knows to keep 17 of them
    with pytest.raises(DataError, match=r"data_2d_h36m_gt.npz has 17-joint 2D keypoints \(layout None\) but the 3D "
                                        r"has 32 joints \(h36m32\); no mapping between them"):
        load_file_pair(p3, p2, cameras=H36M_CAMERAS)
    # the same data on 17 joints with stored cameras, no skip list: the generic loader equals Human3.6M's
    q3, q2 = save_videopose3d(tmp_path / "g3", tmp_path / "g2", {s: {a: X[:, KEEP_17] for a, X in acts.items()}
                                                                  for s, acts in poses.items()},
                              pos2d, {"fps": 25}, cameras={s: H36M_CAMERAS[s] for s in poses})
    generic, h36m = load_file_pair(q3, q2), load_videopose3d(p3, p2)
    assert generic.skeleton is H36M_17 and generic.fps == 25.0 and generic.subjects() == h36m.subjects()
    for s, a, c in h36m.select():
        np.testing.assert_array_equal(generic.sequence(s, a, c).x2d, h36m.sequence(s, a, c).x2d)
        np.testing.assert_allclose(generic.sequence(s, a, c).y3d, h36m.sequence(s, a, c).y3d, atol=1e-6)


def test_coco_detections_are_mapped_onto_the_17_joints(tmp_path):
    # VideoPose3D also ships Human3.6M COCO detections (layout 'coco'): mapped, not read as Human3.6M order
    rng = np.random.default_rng(5)
    world = {"S1": {"Walking": fake_pose_sequence(6, rng)}}
    coco = {"S1": {"Walking": [ref_pixels(ref_world_to_camera(fake_coco_points(world["S1"]["Walking"]), cam), cam)
                               .astype(np.float32) for cam in H36M_CAMERAS["S1"]]}}
    np.savez_compressed(tmp_path / "data_3d_h36m.npz", positions_3d=world)
    np.savez_compressed(tmp_path / "data_2d_h36m_detectron_pt_coco.npz", positions_2d=coco,
                        metadata={"layout_name": "coco", "num_joints": 17,
                                  "keypoints_symmetry": [[1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]]})
    for joints, keep in ((17, list(range(17))), (16, [j for j in range(17) if j != 9])):
        ds = load_h36m(tmp_path, keypoints="detectron_pt_coco", joints=joints)
        for c in range(4):
            expected = coco_to_h36m17_by_hand(coco["S1"]["Walking"][c].astype(np.float64))[:, keep]
            np.testing.assert_allclose(ds.sequence("S1", "Walking", c).pixels, expected, rtol=1e-6, atol=1e-3)
        assert ds.tensors("S1").keypoints_left == (H36M_17 if joints == 17 else H36M_16).left


def test_joint_sets_without_a_mapping_are_refused_naming_both(tmp_path):
    make_fake_h36m(tmp_path, subjects=("S1",), actions=("Walking",), frames=4)
    pos2, meta = read_positions_2d(tmp_path / "data_2d_h36m_gt.npz")
    fifteen = {s: {a: [v[:, :15] for v in views] for a, views in acts.items()} for s, acts in pos2.items()}
    save_videopose3d(None, tmp_path / "data_2d_h36m_he.npz", None, fifteen,
                     {"layout_name": "humaneva15", "keypoints_symmetry": [[2], [5]]})
    with pytest.raises(DataError, match=r"data_2d_h36m_he.npz has 15-joint 2D keypoints \(layout 'humaneva15'\) but "
                                        r"the 3D has 17 joints \(h36m17\); no mapping between them"):
        load_h36m(tmp_path, keypoints="he")
    eighteen = {s: {a: [np.concatenate([v, v[:, :1]], 1) for v in views] for a, views in acts.items()}
                for s, acts in pos2.items()}
    save_videopose3d(None, tmp_path / "data_2d_h36m_c18.npz", None, eighteen,
                     {"layout_name": "coco", "keypoints_symmetry": [[1], [2]]})
    with pytest.raises(DataError, match=r"data_2d_h36m_c18.npz: 2D keypoints have 18 joints but their layout 'coco' "
                                        r"\(coco17\) has 17"):
        load_h36m(tmp_path, keypoints="c18")


def test_pose_dataset_refuses_2d_off_the_3d_joints():
    world = {"S1": {"Walking": np.zeros((3, 17, 3), np.float32) + [0, 0, 1]}}
    pixels = {"S1": {"Walking": [np.zeros((3, 15, 2), np.float32)]}}
    with pytest.raises(DataError, match=r"2d.npz: subject 'S1' action 'Walking' camera 0 has 15 2D joints but the 3D "
                                        r"has 17 \(h36m17\)"):
        PoseDataset(world, pixels, {"S1": H36M_CAMERAS["S1"][:1]}, H36M_17, H36M_17.left, H36M_17.right,
                    sources=("3d.npz", "2d.npz"))
