"""Human3.6M (Ionescu et al., TPAMI 2014) as VideoPose3D distributes it: subjects, actions, cameras, the
sequences to leave out, the 16-joint variants, and the loaders.

Files: ``data_3d_h36m.npz`` (``(N, 32, 3)`` world metres per subject and action, no ``cameras`` key) and
``data_2d_h36m_<keypoints>.npz`` (four cameras per sequence; ``gt``, ``cpn_ft_h36m_dbb``, ...), in the format of
:mod:`poselift_core.data.videopose3d`. What those files leave unsaid is Human3.6M's, and
:func:`load_videopose3d` fills it in: the calibration table (:data:`H36M_CAMERAS`), the corrupted S11
Directions video (:data:`H36M_SKIPPED`), the S9 sequences whose 3D drifts (:data:`H36M_DRIFT_SEQUENCES`) and the
joint sets of other code bases (32 mocap joints -> 17; the SemGCN family's 16 joints, from the 17 or from
Stacked-Hourglass MPII keypoints). Explained in the book, chapter 2 ("The VideoPose3D file format").
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..camera import Camera
from ..skeleton import H36M_16, H36M_17, H36M_32_TO_17, Skeleton
from .videopose3d import (DataError, PoseDataset, dataset_from_arrays, read_file_pair, require_data_files,
                          resolve_skeleton, stored_joint_count)

__all__ = [
    "H36M_ACTIONS", "H36M_SUBJECTS", "H36M_TRAIN_SUBJECTS", "H36M_TEST_SUBJECTS", "H36M_SKIPPED",
    "H36M_DRIFT_SEQUENCES", "SH_MPII_TO_H36M16", "H36M_17_TO_16", "H36M_CAMERA_IDS", "H36M_CAMERAS",
    "load_videopose3d", "load_h36m",
]

#: The 15 canonical actions in the column order of published result tables (e.g. Pavllo et al., CVPR 2019, Table 1).
H36M_ACTIONS = ("Directions", "Discussion", "Eating", "Greeting", "Phoning", "Photo", "Posing", "Purchases",
                "Sitting", "SittingDown", "Smoking", "Waiting", "WalkDog", "Walking", "WalkTogether")
H36M_SUBJECTS = ("S1", "S5", "S6", "S7", "S8", "S9", "S11")
H36M_TRAIN_SUBJECTS = ("S1", "S5", "S6", "S7", "S8")
H36M_TEST_SUBJECTS = ("S9", "S11")
#: (subject, action) pairs dropped everywhere: one S11 Directions video is corrupted (VideoPose3D's files omit it).
H36M_SKIPPED = (("S11", "Directions"),)
#: S9 sequences whose 3D drifts away from the video (`OSVAI/GridConv` drops them for detected 2D); all four cameras.
H36M_DRIFT_SEQUENCES = (("S9", "Greeting"), ("S9", "SittingDown 1"), ("S9", "Waiting 1"))
#: Stacked-Hourglass (MPII order) -> 16-joint H36M order: new joint i takes SH joint [i] (as in `garyzhao/SemGCN`).
SH_MPII_TO_H36M16 = (6, 2, 1, 0, 3, 4, 5, 7, 8, 9, 13, 14, 15, 12, 11, 10)
#: 17-joint indices kept by the 16-joint SemGCN skeleton (every joint but Neck/Nose), in 16-joint order.
H36M_17_TO_16 = tuple(H36M_17.index(n) for n in H36M_16.names)

# --------------------------------------------------------------------------- cameras
#: Camera ids in index order 0..3 (Human3.6M; the order of VideoPose3D's files).
H36M_CAMERA_IDS = ("54138969", "55011271", "58860488", "60457274")

# VideoPose3D's table: id -> (w, h, fx, fy, cx, cy, k1, k2, k3, p1, p2); identical for every subject.
_H36M_INTRINSICS = {
    "54138969": (1000, 1002, 1145.0494384765625, 1143.7811279296875, 512.54150390625, 515.4514770507812,
                 -0.20709891617298126, 0.24777518212795258, -0.0030751503072679043,
                 -0.0009756988729350269, -0.00142447161488235),
    "55011271": (1000, 1000, 1149.6756591796875, 1147.5916748046875, 508.8486328125, 508.0649108886719,
                 -0.1942136287689209, 0.2404085397720337, 0.006819975562393665,
                 -0.0016190266469493508, -0.0027408944442868233),
    "58860488": (1000, 1000, 1149.1407470703125, 1148.7989501953125, 519.8158569335938, 501.40264892578125,
                 -0.2083381861448288, 0.25548800826072693, -0.0024604974314570427,
                 0.0014843869721516967, -0.0007599993259645998),
    "60457274": (1000, 1002, 1145.5113525390625, 1144.77392578125, 514.9682006835938, 501.88201904296875,
                 -0.198384091258049, 0.21832367777824402, -0.008947807364165783,
                 -0.0005872055771760643, -0.0018133620033040643),
}

# VideoPose3D: subject -> 4 x (qw, qx, qy, qz, tx, ty, tz) with the centre in millimetres, cameras in id order.
_H36M_EXTRINSICS_MM = {
    "S1": [(0.1407056450843811, -0.1500701755285263, -0.755240797996521, 0.6223280429840088,
            1841.1070556640625, 4955.28466796875, 1563.4454345703125),
           (0.6157187819480896, -0.764836311340332, -0.14833825826644897, 0.11794740706682205,
            1761.278564453125, -5078.0068359375, 1606.2650146484375),
           (0.14651472866535187, -0.14647851884365082, 0.7653023600578308, -0.6094175577163696,
            -1846.7777099609375, 5215.04638671875, 1491.972412109375),
           (0.5834008455276489, -0.7853162288665771, 0.14548823237419128, -0.14749594032764435,
            -1794.7896728515625, -3722.698974609375, 1574.8927001953125)],
    "S5": [(0.1467377245426178, -0.162370964884758, -0.7551892995834351, 0.6178938746452332,
            2097.3916015625, 4880.94482421875, 1605.732421875),
           (0.6159758567810059, -0.7626792192459106, -0.15728192031383514, 0.1189815029501915,
            2031.7008056640625, -5167.93310546875, 1612.923095703125),
           (0.14291371405124664, -0.12907841801643372, 0.7678384780883789, -0.6110143065452576,
            -1620.5948486328125, 5171.65869140625, 1496.43701171875),
           (0.5920479893684387, -0.7814217805862427, 0.1274748593568802, -0.15036417543888092,
            -1637.1737060546875, -3867.3173828125, 1547.033203125)],
    "S6": [(0.1337897777557373, -0.15692396461963654, -0.7571090459823608, 0.6198879480361938,
            1935.4517822265625, 4950.24560546875, 1618.0838623046875),
           (0.6147197484970093, -0.7628812789916992, -0.16174767911434174, 0.11819244921207428,
            1969.803955078125, -5128.73876953125, 1632.77880859375),
           (0.1529948115348816, -0.13529130816459656, 0.7646096348762512, -0.6112781167030334,
            -1769.596435546875, 5185.361328125, 1476.993408203125),
           (0.5916101336479187, -0.7804774045944214, 0.12832270562648773, -0.1561593860387802,
            -1721.668701171875, -3884.13134765625, 1540.4879150390625)],
    "S7": [(0.1435241848230362, -0.1631336808204651, -0.7548328638076782, 0.6188824772834778,
            1974.512939453125, 4926.3544921875, 1597.8326416015625),
           (0.6141672730445862, -0.7638262510299683, -0.1596645563840866, 0.1177929937839508,
            1937.0584716796875, -5119.7900390625, 1631.5665283203125),
           (0.14550060033798218, -0.12874816358089447, 0.7660516500473022, -0.6127139329910278,
            -1741.8111572265625, 5208.24951171875, 1464.8245849609375),
           (0.5912848114967346, -0.7821764349937439, 0.12445473670959473, -0.15196487307548523,
            -1734.7105712890625, -3832.42138671875, 1548.5830078125)],
    "S8": [(0.14110587537288666, -0.15589867532253265, -0.7561917304992676, 0.619644045829773,
            2150.65185546875, 4896.1611328125, 1611.9046630859375),
           (0.6169601678848267, -0.7647668123245239, -0.14846350252628326, 0.11158157885074615,
            2219.965576171875, -5148.453125, 1613.0440673828125),
           (0.1471444070339203, -0.13377119600772858, 0.7670128345489502, -0.6100369691848755,
            -1571.2215576171875, 5137.0185546875, 1498.1761474609375),
           (0.5927824378013611, -0.7825870513916016, 0.12147816270589828, -0.14631995558738708,
            -1476.913330078125, -3896.7412109375, 1547.97216796875)],
    "S9": [(0.15540587902069092, -0.15548215806484222, -0.7532095313072205, 0.6199594736099243,
            2044.45849609375, 4935.1171875, 1481.2275390625),
           (0.618784487247467, -0.7634735107421875, -0.14132238924503326, 0.11933968216180801,
            1990.959716796875, -5123.810546875, 1568.8048095703125),
           (0.13357827067375183, -0.1367100477218628, 0.7689454555511475, -0.6100738644599915,
            -1670.9921875, 5211.98583984375, 1528.387939453125),
           (0.5879399180412292, -0.7823407053947449, 0.1427614390850067, -0.14794869720935822,
            -1696.04345703125, -3827.099853515625, 1591.4127197265625)],
    "S11": [(0.15232472121715546, -0.15442320704460144, -0.7547563314437866, 0.6191070079803467,
             2098.440185546875, 4926.5546875, 1500.278564453125),
            (0.6189449429512024, -0.7600917220115662, -0.15300633013248444, 0.1255258321762085,
             2083.182373046875, -4912.1728515625, 1561.07861328125),
            (0.14943228662014008, -0.15650227665901184, 0.7681233882904053, -0.6026304364204407,
             -1609.8153076171875, 5177.3359375, 1537.896728515625),
            (0.5894251465797424, -0.7818877100944519, 0.13991211354732513, -0.14715361595153809,
             -1590.738037109375, -3854.1689453125, 1578.017578125)],
}


def _h36m_camera(cam_id: str, extrinsics_mm: Sequence[float]) -> Camera:
    w, h, fx, fy, cx, cy, k1, k2, k3, p1, p2 = _H36M_INTRINSICS[cam_id]
    return Camera(id=cam_id, res_w=w, res_h=h, focal=(fx, fy), center=(cx, cy), radial=(k1, k2, k3),
                  tangential=(p1, p2), orientation=extrinsics_mm[:4],
                  translation=tuple(v / 1000.0 for v in extrinsics_mm[4:]))  # mm -> m


#: ``subject -> [Camera x 4]`` for the subjects with published extrinsics (S1 S5 S6 S7 S8 S9 S11).
H36M_CAMERAS: dict[str, list[Camera]] = {
    subject: [_h36m_camera(cid, ext) for cid, ext in zip(H36M_CAMERA_IDS, table)]
    for subject, table in _H36M_EXTRINSICS_MM.items()
}


# --------------------------------------------------------------------------- joint sets
def _reduce_3d(X: np.ndarray, skeleton: Skeleton, s: str, a: str, src: str) -> np.ndarray:
    """Bring a stored 3D array onto ``skeleton``: 32 -> 17 (-> 16) for Human3.6M, else as stored."""
    J = X.shape[1] if X.ndim == 3 else None
    if skeleton in (H36M_17, H36M_16):
        if J == 32:
            X = X[:, list(H36M_32_TO_17)]
            J = 17
        if J == 17 and skeleton is H36M_16:
            X, J = X[:, list(H36M_17_TO_16)], 16
    if X.ndim != 3 or X.shape[1:] != (skeleton.num_joints, 3):
        allowed = {17: "32 or 17", 16: "32, 17 or 16"}.get(skeleton.num_joints, str(skeleton.num_joints)) \
            if skeleton in (H36M_17, H36M_16) else str(skeleton.num_joints)
        raise DataError(f"{src}: subject {s!r} action {a!r} has shape {X.shape}; expected (N, {allowed}, 3) "
                        f"for skeleton {skeleton.name}")
    return X


def _h36m_2d(positions_2d: dict, metadata: dict, skeleton: Skeleton, src: str) -> tuple[dict, dict]:
    """The Human3.6M-specific 2D joint sets: 16-joint files (SemGCN's 17 minus Neck/Nose, or Stacked-Hourglass
    MPII keypoints) for the 16-joint skeleton; everything else is left to the format's own layout check.

    Returns ``(positions_2d, metadata)`` with ``metadata`` describing the returned arrays.
    """
    if skeleton not in (H36M_17, H36M_16):
        return positions_2d, metadata
    joints = {np.shape(v)[1] for acts in positions_2d.values() for views in acts.values() for v in views
              if np.ndim(v) == 3}
    J2 = joints.pop() if len(joints) == 1 else None  # mixed or malformed counts: the format's check names them
    layout = metadata.get("layout_name")
    if skeleton is H36M_17 and J2 == 16:
        raise DataError(f"{src} has 16-joint 2D keypoints (layout {layout!r}) but the 3D has 17 joints "
                        f"(h36m17); load it with joints=16")
    index = None
    if skeleton is H36M_16 and J2 == 16 and layout == "mpii":
        index = SH_MPII_TO_H36M16
    elif skeleton is H36M_16 and J2 == 17 and layout in (None, "h36m"):
        index = H36M_17_TO_16
    if index is None:
        return positions_2d, metadata
    positions_2d = {s: {a: [np.asarray(v)[:, list(index)] for v in views] for a, views in acts.items()}
                    for s, acts in positions_2d.items()}
    return positions_2d, {**metadata, "num_joints": 16, "layout_name": "h36m16",
                          "keypoints_symmetry": [list(H36M_16.left), list(H36M_16.right)]}


# --------------------------------------------------------------------------- loaders
def load_videopose3d(path_3d: "str | Path", path_2d: "str | Path", *, joints: "int | str | Skeleton | None" = None,
                     cameras: "Mapping[str, Sequence[Camera]] | None" = None, fps: "float | None" = None,
                     splits: "Mapping[str, Sequence[str]] | None" = None,
                     skip: Iterable[tuple[str, str]] = H36M_SKIPPED,
                     drift_sequences: Iterable[tuple[str, str]] = H36M_DRIFT_SEQUENCES,
                     name: "str | None" = None) -> PoseDataset:
    """Load a VideoPose3D file pair, with Human3.6M's conventions wherever the files say nothing.

    VideoPose3D's own files are Human3.6M's, so this is the loader for them and for files converted to their
    layout (the bundled sample, converted mocap); :func:`~poselift_core.data.videopose3d.load_file_pair` assumes
    nothing about the dataset.

    Args:
        joints: 3D skeleton (17 / 16 / ``"humaneva15"`` / a :class:`Skeleton`); default from the 3D file
            (32 or 17 joints -> H36M-17, 16 -> H36M-16, 15 -> HumanEva-15).
        cameras: ``subject -> [Camera]``; default the 3D file's ``cameras`` key, else :data:`H36M_CAMERAS`.
        fps, splits: default the 2D metadata's ``fps`` (else 50) and ``splits`` (else none).
        skip: (subject, action) pairs ignored in both files (default: S11 Directions).
        drift_sequences: pairs removed by ``tensors(..., exclude_drift=True)`` (default: the S9 drift list).
    """
    src3, src2 = str(path_3d), str(path_2d)
    pos3, file_cams, pos2, metadata = read_file_pair(path_3d, path_2d, skip)
    if joints is None:
        stored = stored_joint_count(pos3) or 17
        joints = 17 if stored == 32 else stored  # the 32-joint mocap skeleton loads as its 17 joints
    skeleton = resolve_skeleton(joints, src3)
    pos3 = {s: {a: _reduce_3d(np.asarray(x, np.float32), skeleton, s, a, src3) for a, x in acts.items()}
            for s, acts in pos3.items()}
    pos2, metadata = _h36m_2d(pos2, metadata, skeleton, src2)
    cams = cameras if cameras is not None else (file_cams if file_cams is not None else H36M_CAMERAS)
    return dataset_from_arrays(pos3, pos2, metadata, skeleton, cams, (src3, src2), fps=fps, splits=splits,
                               drift_sequences=drift_sequences, name=name)


def load_h36m(data_dir: "str | Path", keypoints: str = "gt", joints: int = 17) -> PoseDataset:
    """Human3.6M from ``data_dir/data_3d_h36m.npz`` and ``data_dir/data_2d_h36m_<keypoints>.npz``.

    ``keypoints``: ``'gt'``, ``'cpn_ft_h36m_dbb'``, ``'detectron_ft_h36m'``, ``'sh_ft_h36m'``, ... ;
    ``joints``: 17 (VideoPose3D / GLA-GCN / GridConv) or 16 (SemGCN family, Nose dropped).
    Splits: train S1 S5 S6 S7 S8, test S9 S11.
    """
    p3, p2 = require_data_files(data_dir, "h36m", keypoints, "load_h36m")
    if joints not in (16, 17):
        raise ValueError(f"joints must be 17 or 16 for Human3.6M, got {joints!r}")
    return load_videopose3d(p3, p2, joints=joints, cameras=None,
                            splits={"train": list(H36M_TRAIN_SUBJECTS), "test": list(H36M_TEST_SUBJECTS)},
                            name=f"h36m-{keypoints}-{joints}")
