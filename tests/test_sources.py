"""Data sources (poselift_core.sources): which reader each source goes to, how a recipe's settings apply to
it, and the one-line errors for unknown sources and missing folders or files."""
import numpy as np
import pytest

from poselift_core.camera import project_to_image, world_to_camera
from poselift_core.data import DataError, sample_paths
from poselift_core.data.fixtures import make_fake_h36m
from poselift_core.data.humaneva import HUMANEVA_CAMERAS
from poselift_core.recipes import get_recipe
from poselift_core.sources import DATA_SOURCES, dataset_files, load_data, load_dataset

GT17 = get_recipe("glagcn-h36m-gt-27")          # Human3.6M, GT 2D, 17 joints
SEMGCN16 = get_recipe("gcn-vanilla-gt")         # Human3.6M, GT 2D, 16 joints
CPN17 = get_recipe("gcn-modulated-cpn")         # Human3.6M, CPN detections
HUMANEVA15 = get_recipe("glagcn-humaneva-gt-27")


@pytest.fixture
def h36m_dir(tmp_path):
    """Every Human3.6M subject with cameras, two actions of 10 frames seen by four cameras."""
    make_fake_h36m(tmp_path, subjects=("S1", "S5", "S6", "S7", "S8", "S9", "S11"), actions=("Walking 1", "Eating 2"),
                   frames=10)
    return tmp_path


@pytest.fixture
def humaneva_dir(tmp_path):
    """Train/S1 and Validate/S1 with one chunk each, 2D projected with the HumanEva cameras."""
    rng = np.random.default_rng(0)
    pos3d, pos2d = {}, {}
    for subject in ("Train/S1", "Validate/S1"):
        X = (np.array([0.0, 0.0, 1.0]) + rng.normal(0, 0.2, size=(5, 15, 3))).astype(np.float32)
        pos3d[subject] = {"Walking 1 chunk0": X}
        pos2d[subject] = {"Walking 1 chunk0": [project_to_image(world_to_camera(X, c), c)
                                               for c in HUMANEVA_CAMERAS["S1"]]}
    np.savez_compressed(tmp_path / "data_3d_humaneva15.npz", positions_3d=pos3d)
    np.savez_compressed(tmp_path / "data_2d_humaneva15_gt.npz", positions_2d=pos2d,
                        metadata={"layout_name": "humaneva15", "num_joints": 15,
                                  "keypoints_symmetry": [[2, 3, 4, 8, 9, 10], [5, 6, 7, 11, 12, 13]]})
    return tmp_path


# --------------------------------------------------------------------------- load_dataset
def test_each_source_goes_to_its_reader(h36m_dir, humaneva_dir):
    sample = load_dataset("sample")
    assert sample.subjects() == list(np.load(sample_paths()[0], allow_pickle=True)["positions_3d"].item())
    assert sample.skeleton.name == "h36m17" and load_dataset("sample", joints=16).skeleton.name == "h36m16"
    h36m = load_dataset("h36m", str(h36m_dir))
    assert h36m.subjects() == ["S1", "S5", "S6", "S7", "S8", "S9", "S11"] and h36m.skeleton.name == "h36m17"
    assert load_dataset("h36m", str(h36m_dir), joints=16).skeleton.num_joints == 16
    humaneva = load_dataset("humaneva", str(humaneva_dir))
    assert humaneva.skeleton.name == "humaneva15"
    open_data = load_dataset("open")
    assert {"03", "131"} <= set(open_data.subjects()) and open_data.skeleton.name == "h36m17"
    assert load_dataset("open", joints=15).skeleton.num_joints == 17      # the open data offer 16 or 17 only


def test_unknown_source_and_missing_folders_are_one_line_errors(tmp_path):
    for call in (lambda: load_dataset("mnist"), lambda: load_data(GT17, "mnist"), lambda: dataset_files("mnist")):
        with pytest.raises(ValueError, match=r"unknown data 'mnist'; use one of .*'open'"):
            call()
    for source in ("h36m", "humaneva", "cmu"):
        with pytest.raises(ValueError, match=f"data '{source}' needs a data folder"):
            load_dataset(source)
        with pytest.raises(FileNotFoundError, match="does not exist"):
            load_dataset(source, str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match="no .amc or .bvh motion files"):
        load_dataset("cmu", str(tmp_path))
    assert set(DATA_SOURCES) == {"open", "sample", "h36m", "humaneva", "cmu"}


def test_missing_keypoints_file_names_it(h36m_dir):
    with pytest.raises((DataError, FileNotFoundError), match="data_2d_h36m_hrnet"):
        load_dataset("h36m", str(h36m_dir), keypoints="hrnet")


# --------------------------------------------------------------------------- load_data
def test_native_data_take_the_recipes_splits_actions_and_joints(h36m_dir):
    train, test, info = load_data(GT17, "h36m", str(h36m_dir))
    # 2 actions x 4 cameras x 10 frames per subject; S1 S5 S6 S7 S8 train, S9 S11 test (the Human3.6M protocol)
    assert (info["train_subjects"], info["test_subjects"]) == (["S1", "S5", "S6", "S7", "S8"], ["S11", "S9"])
    assert (train.num_frames, test.num_frames) == (400, 160)
    assert (info["train_frames"], info["test_frames"], info["joints"]) == (400, 160, 17) and "note" not in info
    walking = GT17.replace(actions=("Walking",))
    train, test, info = load_data(walking, "h36m", str(h36m_dir))
    assert (train.num_frames, test.num_frames) == (200, 80) and set(test.actions) == {"Walking 1"}
    assert info["actions"] == ["Walking"]
    assert load_data(SEMGCN16, "h36m", str(h36m_dir))[1].skeleton.name == "h36m16"
    _, swapped, info = load_data(GT17, "h36m", str(h36m_dir), train_subjects=["S9"], test_subjects=["S1"])
    assert set(swapped.subjects) == {"S1"} and info["train_subjects"] == ["S9"] and swapped.num_frames == 80


def test_other_data_keep_what_they_can_and_say_what_they_replaced():
    _, test, info = load_data(CPN17, "sample")
    assert info["keypoints"] == "gt" and "GT 2D used" in info["note"]            # no detections in the sample
    _, test, info = load_data(SEMGCN16.replace(actions=("Walking",)), "sample", need_train=False)
    assert test.skeleton.num_joints == 16 and info["actions"] is None            # actions are Human3.6M's
    assert info["train_subjects"] is None and info["train_frames"] is None       # need_train=False
    _, test, _ = load_data(HUMANEVA15, "sample", need_train=False)
    assert test.skeleton.name == "h36m17"                                        # 15 joints: not in the sample


# --------------------------------------------------------------------------- dataset_files
def test_dataset_files_are_the_pair_behind_each_source(h36m_dir, tmp_path):
    assert dataset_files("sample") == sample_paths()
    assert dataset_files("h36m", str(h36m_dir)) == (h36m_dir / "data_3d_h36m.npz", h36m_dir / "data_2d_h36m_gt.npz")
    p3, p2 = dataset_files("open", export_dir=str(tmp_path / "export"))
    # the exported float32 pair holds the same poses as the int16 millimetres of the shipped file
    exported = np.load(p3, allow_pickle=True)["positions_3d"].item()
    shipped = load_dataset("open")
    subject = "03"
    action = next(iter(exported[subject]))
    seq = shipped.sequence(subject, action, 0)
    np.testing.assert_allclose(exported[subject][action], seq.world, atol=1e-6)
    assert p2.is_file()
