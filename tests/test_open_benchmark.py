"""The shipped open benchmark: contents, hash, the projected 2D, and the rebuild from the CMU files."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from poselift_core.data import load_videopose3d
from poselift_core.data.h36m import H36M_CAMERAS
from poselift_core.data.open_benchmark import (OPEN_TEST_SUBJECTS, OPEN_TRAIN_SUBJECTS, content_hash,
                                               export_videopose3d, load_open, open_path, read_open_mm)
from poselift_core.data.videopose3d import DataError

CMU = Path(__file__).resolve().parents[2] / "shared" / "data" / "cmu"
needs_cmu = pytest.mark.skipif(not CMU.is_dir(), reason=f"CMU mocap copy not found at {CMU}")


@pytest.fixture(scope="module")
def shipped():
    return read_open_mm()


def test_shipped_file_is_small_and_split_by_subject(shipped):
    pos, meta, _ = shipped
    assert open_path().stat().st_size < 20e6
    assert set(pos) == set(OPEN_TRAIN_SUBJECTS) | set(OPEN_TEST_SUBJECTS)
    assert meta["splits"] == {"train": list(OPEN_TRAIN_SUBJECTS), "test": list(OPEN_TEST_SUBJECTS)}
    assert not set(meta["splits"]["train"]) & set(meta["splits"]["test"])
    for s, acts in pos.items():
        assert meta["frames_per_subject"][s] == sum(len(x) for x in acts.values())
    assert any("mocap.cs.cmu.edu" in c for c in meta["credit"])


def test_content_hash_detects_a_changed_value(shipped, tmp_path):
    pos, meta, cams = shipped
    assert content_hash(pos) == meta["content_sha256"]
    bad = {s: {a: x.copy() for a, x in acts.items()} for s, acts in pos.items()}
    first = next(iter(bad["03"]))
    bad["03"][first][10, 4, 2] += 1                                   # one millimetre somewhere
    assert content_hash(bad) != meta["content_sha256"]
    path = tmp_path / "data_3d_open.npz"
    np.savez_compressed(path, positions_3d_mm=bad, metadata=meta, cameras=cams)
    with pytest.raises(DataError, match="content_sha256"):
        read_open_mm(path)


def _pinhole_distorted(X_world: np.ndarray, cam) -> np.ndarray:
    """Independent per-point projection: quaternion -> R by hand, world->camera, H36M distortion, pixels."""
    w, x, y, z = cam.orientation
    R = np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                  [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                  [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])
    out = np.empty(X_world.shape[:-1] + (2,))
    for idx in np.ndindex(*X_world.shape[:-1]):
        pc = R.T @ (X_world[idx] - np.array(cam.translation))      # R is camera-to-world
        u, v = np.clip(pc[0] / pc[2], -1, 1), np.clip(pc[1] / pc[2], -1, 1)
        r2 = u * u + v * v
        k1, k2, k3 = cam.radial
        p1, p2 = cam.tangential
        radial = 1 + k1 * r2 + k2 * r2 ** 2 + k3 * r2 ** 3
        tan = p1 * u + p2 * v
        ud, vd = u * (radial + tan) + p1 * r2, v * (radial + tan) + p2 * r2
        out[idx] = (cam.focal[0] * ud + cam.center[0], cam.focal[1] * vd + cam.center[1])
    return out


def test_projected_2d_equals_an_independent_projection_of_the_stored_3d(shipped):
    pos, _, _ = shipped
    ds = load_open()
    for subject in ("03", "131", "DeepMimic"):
        action = sorted(pos[subject])[0]
        world = pos[subject][action][::37].astype(np.float64) / 1000.0
        expected = _pinhole_distorted(world, H36M_CAMERAS["S1"][2])
        got = ds._pixels[subject][action][2][::37]
        np.testing.assert_allclose(got, expected, atol=2e-3)        # float32 pixels


def test_int16_storage_is_millimetre_rounding_of_the_float_world(shipped):
    pos, _, _ = shipped
    ds = load_open()
    world = ds._world["131"]["131_01"]
    np.testing.assert_array_equal(np.round(world * 1000.0), pos["131"]["131_01"])
    assert world.dtype == np.float32


def test_sixteen_joints_drop_the_nose():
    full, reduced = load_open(), load_open(joints=16)
    w17, w16 = full._world["03"]["03_01"], reduced._world["03"]["03_01"]
    np.testing.assert_array_equal(np.delete(w17, 9, axis=1), w16)
    with pytest.raises(ValueError, match="17 or 16"):
        load_open(joints=15)


def test_export_gives_the_same_dataset_through_the_videopose3d_reader(tmp_path):
    p3, p2 = export_videopose3d(tmp_path)
    a = load_open().tensors(["131"])
    b = load_videopose3d(p3, p2).tensors(["131"])
    assert a.num_frames == b.num_frames
    np.testing.assert_allclose(a.x2d.numpy(), b.x2d.numpy(), atol=1e-6)
    np.testing.assert_allclose(a.y3d.numpy(), b.y3d.numpy(), atol=1e-6)


@needs_cmu
def test_rebuilding_cmu_subjects_from_the_source_files_gives_the_shipped_arrays(shipped):
    from poselift_core.conversion.build_open import build_open_arrays

    pos, _, _ = shipped
    rebuilt, sources = build_open_arrays(CMU, subjects=("11", "131"))
    assert set(rebuilt) == {"11", "131"}
    for s in rebuilt:
        assert sorted(rebuilt[s]) == sorted(pos[s])
        for a in rebuilt[s]:
            np.testing.assert_array_equal(rebuilt[s][a], pos[s][a])
    assert all(v.startswith("CMU mocap") for v in sources.values())
