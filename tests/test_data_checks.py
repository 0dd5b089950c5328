"""Dataset sanity checks: they pass on consistent files and each one catches the mistake it is meant for."""
import numpy as np
import pytest

from poselift_core.camera import Camera
from poselift_core.data import load_h36m
from poselift_core.data.checks import bone_lengths, sanity_checks
from poselift_core.data.fixtures import make_fake_h36m
from poselift_core.data.h36m import H36M_CAMERAS
from poselift_core.data.videopose3d import PoseDataset
from poselift_core.skeleton import H36M_17


def _by_name(rows):
    return {r["check"]: r for r in rows}


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    d = tmp_path_factory.mktemp("h36m")
    make_fake_h36m(d, subjects=("S1", "S9"), actions=("Walking 1", "Eating"), frames=24)
    return load_h36m(d)


def _rebuilt(ds, world_scale=1.0, cameras=None):
    """The same data through the PoseDataset constructor, with a unit or camera mistake injected."""
    pos3 = {s: {a: ds.world(s, a) * world_scale for a in ds.actions(s)} for s in ds.subjects()}
    pos2 = {s: {a: [ds.sequence(s, a, c).pixels for c in range(4)] for a in ds.actions(s)} for s in ds.subjects()}
    cams = cameras or {s: ds.cameras(s) for s in ds.subjects()}
    return PoseDataset(pos3, pos2, cams, ds.skeleton, ds.keypoints_left, ds.keypoints_right)


def test_bone_lengths_against_a_loop():
    rng = np.random.default_rng(0)
    poses = rng.normal(size=(5, 17, 3))
    expected = np.stack([[np.linalg.norm(p[j] - p[H36M_17.parents[j]]) for j in range(1, 17)] for p in poses])
    np.testing.assert_allclose(bone_lengths(poses, H36M_17.parents), expected)


def test_consistent_files_pass(fake):
    rows = _by_name(sanity_checks(fake))
    assert all(r["ok"] in (True, None) for r in rows.values()), rows
    assert float(rows["re-projection error (px)"]["value"]) < 0.1
    assert rows["sequences checked"]["value"] == str(2 * 2 * 4)
    assert sanity_checks(fake, max_sequences=3)[-1]["value"] == "3"


def test_millimetres_are_caught(fake):
    rows = _by_name(sanity_checks(_rebuilt(fake, world_scale=1000.0)))
    assert rows["longest limb bone (m)"]["ok"] is False
    assert rows["re-projection error (px)"]["ok"] is False  # the 2D no longer match the scaled 3D


def test_cameras_of_another_subject_are_caught(fake):
    wrong = {s: H36M_CAMERAS["S5"] for s in fake.subjects()}
    assert _by_name(sanity_checks(_rebuilt(fake, cameras=wrong)))["re-projection error (px)"]["ok"] is False
    # each camera turned 180 degrees about its own y axis, q' = q (0, 0, 1, 0): it looks away from the subject
    turned = {s: [Camera(c.id, c.res_w, c.res_h, c.focal, c.center, c.radial, c.tangential,
                         (-c.orientation[2], -c.orientation[3], c.orientation[0], c.orientation[1]), c.translation)
                  for c in fake.cameras(s)] for s in fake.subjects()}
    assert np.allclose(turned["S1"][0].R, fake.cameras("S1")[0].R @ np.diag([-1, 1, -1]))
    assert _by_name(sanity_checks(_rebuilt(fake, cameras=turned)))["root depth (m)"]["ok"] is False


def test_detections_are_reported_not_judged(fake):
    row = _by_name(sanity_checks(fake, exact_2d=False))["re-projection error (px)"]
    assert row["ok"] is None and row["expected"] == "detector error"
