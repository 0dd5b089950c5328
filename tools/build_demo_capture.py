"""Build data/demo_capture/: MediaPipe detections of pose2sim's four-camera demo and their triangulation.

    .venv/bin/python tools/build_demo_capture.py                      # download, detect, triangulate, write
    .venv/bin/python tools/build_demo_capture.py --reuse-detections   # re-triangulate the shipped detections

Steps: ``pip download pose2sim==VERSION --no-deps`` (BSD-3-Clause; cached under ``--cache``), extract
``Pose2Sim/Demo_SinglePerson/videos/cam0[1-4].mp4`` and ``calibration/Calib.qca.txt``, run
:func:`poselift_core.video.detect_video` on each video with an interpreter that has ``mediapipe==0.10.21``
(``--detect-python``, default ``.venv-video/bin/python``; MediaPipe pins numpy<2, the project venv has
numpy 2), read the Qualisys calibration, triangulate with swap repair, check the calibration convention
against its alternatives, and write detections, calibration, reference and a README with provenance and the
measurements. The videos themselves are not written to the repository.

Runs in the project venv (NumPy; the Human3.6M-17 mapping comes from ``poselift_core.keypoints``).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from poselift_core.keypoints import to_h36m  # noqa: E402
from poselift_core.multiview import (  # noqa: E402
    BLAZEPOSE_SWAP_GROUPS,
    MultiViewCamera,
    Triangulation,
    read_qualisys_calibration,
    save_calibration,
    triangulate_views,
)

VERSION = "0.10.49"
DEMO = "Pose2Sim/Demo_SinglePerson"
CAMS = ("cam01", "cam02", "cam03", "cam04")
OUTLIER_PX = 50.0    # drop a view's joint beyond this error when three or more views remain
# Joints for the upright check: nose above both ankles.
NOSE, ANKLES = 0, (27, 28)

DETECT_SNIPPET = """
import json, sys
from poselift_core.video import detect_video
d = detect_video(sys.argv[1], sys.argv[2], progress=False)
print(json.dumps({"frames": int(d["keypoints"].shape[0]), "seconds": float(d["seconds"])}))
"""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fetch_wheel(version: str, cache: Path, wheel: Path | None) -> Path:
    if wheel is not None:
        if not wheel.is_file():
            raise SystemExit(f"build_demo_capture: --wheel {wheel}: no such file")
        return wheel
    found = sorted(cache.glob(f"pose2sim-{version}-*.whl"))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", f"pose2sim=={version}", "--no-deps", "-q",
                    "-d", str(cache)], check=True)
    found = sorted(cache.glob(f"pose2sim-{version}-*.whl"))
    if not found:
        raise SystemExit(f"build_demo_capture: pip download left no pose2sim-{version} wheel in {cache}")
    return found[0]


def extract(wheel: Path, dest: Path) -> dict[str, tuple[str, Path]]:
    """Extract the demo's videos, calibration and the wheel's licence; returns {label: (member, path)}."""
    members = {c: f"{DEMO}/videos/{c}.mp4" for c in CAMS}
    members["calibration"] = f"{DEMO}/calibration/Calib.qca.txt"
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        lic = [n for n in names if n.endswith(".dist-info/licenses/LICENSE") or n.endswith(".dist-info/LICENSE")]
        if lic:
            members["license"] = lic[0]
        missing = [m for m in members.values() if m not in names]
        if missing:
            raise SystemExit(f"build_demo_capture: {wheel.name} lacks {missing}")
        for m in members.values():
            z.extract(m, dest)
    return {k: (m, dest / m) for k, m in members.items()}


def detect(videos: dict[str, Path], out_dir: Path, python: str) -> dict[str, dict]:
    out_dir.mkdir(parents=True, exist_ok=True)
    stats = {}
    for cam in CAMS:
        res = subprocess.run([python, "-c", DETECT_SNIPPET, str(videos[cam]), str(out_dir / f"{cam}.npz")],
                             cwd=ROOT, check=True, capture_output=True, text=True,
                             env={**os.environ, "PYTHONPATH": str(ROOT)})
        stats[cam] = json.loads(res.stdout.strip().splitlines()[-1])
        s = stats[cam]
        print(f"{cam}: {s['frames']} frames detected in {s['seconds']:.1f} s "
              f"({s['frames'] / s['seconds']:.1f} frames/s)")
    return stats


def load_views(det_dir: Path) -> tuple[np.ndarray, np.ndarray, float]:
    """(V, F, 33, 3) keypoints, (V, 2) image sizes, fps from the per-view files."""
    kps, sizes, fps = [], [], set()
    for cam in CAMS:
        with np.load(det_dir / f"{cam}.npz") as z:
            kps.append(z["keypoints"])
            sizes.append(z["image_size"])
            fps.add(float(z["fps"]))
    if len({k.shape for k in kps}) != 1 or len(fps) != 1:
        raise SystemExit(f"build_demo_capture: views disagree: shapes {[k.shape for k in kps]}, fps {fps}")
    return np.stack(kps), np.stack(sizes), fps.pop()


def fit_to_videos(cams: list[MultiViewCamera], sizes: np.ndarray, left: float = 0.0) -> list[MultiViewCamera]:
    """Cameras for the decoded frames: a video narrower than the calibrated window is taken as that window
    without its right-most columns (``left`` = 0), so the principal point stays where it was."""
    out = []
    for c, (w, h) in zip(cams, sizes):
        if (w, h) == c.image_size:
            out.append(c)
        elif w <= c.image_size[0] and h == c.image_size[1]:
            out.append(c.cropped(left, 0, int(w), int(h)))
        else:
            raise SystemExit(f"build_demo_capture: {c.name} video is {w}x{h}, calibration {c.image_size}")
    return out


def triangulate(kp: np.ndarray, cams: list[MultiViewCamera]) -> Triangulation:
    return triangulate_views(kp[..., :2], kp[..., 2], cams, swap_groups=BLAZEPOSE_SWAP_GROUPS,
                             outlier_px=OUTLIER_PX)


def summarise(tri: Triangulation, cams: list[MultiViewCamera]) -> dict:
    X = tri.points
    depth = np.stack([c.world_to_camera(X)[..., 2] for c in cams])          # (V, F, J)
    ok = np.isfinite(X).all(-1)
    up = X[:, NOSE, 2] > np.max(X[:, ANKLES, 2], axis=1)
    return {"median_px": tri.median_error().round(2).tolist(),
            "in_front_of_all": float((depth > 0).all(0)[ok].mean()),
            "upright": float(up.mean())}


def convention_checks(kp: np.ndarray, cams: list[MultiViewCamera], sizes: np.ndarray) -> list[tuple[str, dict]]:
    """The adopted reading against the alternatives it was chosen over."""
    rx = np.diag([1.0, -1.0, -1.0])                                          # Rx(pi)

    def variant(fn) -> list[MultiViewCamera]:
        out = []
        for c in cams:
            R, K, dist = fn(c)
            out.append(MultiViewCamera(c.name, K, dist, R, -R @ c.centre, c.image_size))
        return out

    rows = [("adopted: K, dist / 64; R = Rx(pi) M; narrower videos lack right columns",
             fit_to_videos(cams, sizes))]
    rows.append(("without the pi rotation about x (R = M)",
                 fit_to_videos(variant(lambda c: (rx @ c.R, c.K, c.dist)), sizes)))
    rows.append(("transform read column by column (R = Rx(pi) M^T)",
                 fit_to_videos(variant(lambda c: (rx @ (rx @ c.R).T, c.K, c.dist)), sizes)))
    rows.append(("distortion not divided by 64",
                 fit_to_videos(variant(lambda c: (c.R, c.K, c.dist * 64)), sizes)))
    for left in (4.0, 8.0):
        rows.append((f"narrower videos cropped {left:g} px from the left", fit_to_videos(cams, sizes, left)))
    return [(name, summarise(triangulate(kp, cc), cc)) for name, cc in rows]


def principal_point_diagnostic(kp: np.ndarray, cams: list[MultiViewCamera], rounds: int = 3
                               ) -> tuple[np.ndarray, list[float]]:
    """How much of the error is a constant offset per view: shift each principal point by its view's
    median residual and re-triangulate, a few rounds. Returns the total shifts (V, 2) pixels and the
    per-view median errors after them. A diagnostic for the README only; the reference uses the calibration
    as published."""
    from poselift_core.multiview import project_points

    cc, total = list(cams), np.zeros((len(cams), 2))
    for _ in range(rounds):
        tri = triangulate(kp, cc)
        res = np.stack([kp[v, ..., :2] - project_points(tri.points, c) for v, c in enumerate(cc)])
        res = np.where(tri.used[..., None], res, np.nan).reshape(len(cc), -1, 2)
        shift = np.nanmedian(res, axis=1)
        total += shift
        cc = [c.cropped(-dx, -dy, *c.image_size) for c, (dx, dy) in zip(cc, shift)]
    return total, triangulate(kp, cc).median_error().round(2).tolist()


def h36m17_3d(X: np.ndarray) -> np.ndarray:
    """(F, 33, 3) BlazePose world points -> (F, 17, 3): :func:`to_h36m`'s affine recipe applied to x, y and
    z (its three-channel form reads channel 2 as a confidence, so the coordinates go through as pairs)."""
    xy = to_h36m(X[..., :2], "blazepose33")
    z = to_h36m(np.repeat(X[..., 2:], 2, axis=-1), "blazepose33")[..., :1]
    return np.concatenate([xy, z], axis=-1)


README = """# Demo capture: pose2sim's `Demo_SinglePerson`, detected and triangulated

A real four-camera recording, shipped small so the book's chapter "Lifting your own video" and CI can compare
single-view lifting with a multi-view 3D reference without MediaPipe or the videos. Built by

    .venv/bin/python tools/build_demo_capture.py

which downloads the `pose2sim` {version} wheel from PyPI (`pip download pose2sim=={version} --no-deps`),
extracts `{demo}/videos/cam01..cam04.mp4` and `calibration/Calib.qca.txt`, detects 2D joints with MediaPipe
Pose (`mediapipe==0.10.21`, run from `.venv-video/bin/python`; `--detect-python` picks another interpreter)
and triangulates them. `--reuse-detections` skips the download and detection and re-triangulates the
detections below (what `tests/test_multiview.py` checks against).

## Source and licence

The videos and the calibration are part of Pose2Sim by David Pagnon (perfanalytics), distributed in the
`pose2sim` wheel under the BSD 3-Clause licence reproduced at the end. Only derived numbers (detections,
calibration parameters, triangulated joints) are stored here, not the videos.

| input | sha256 |
|---|---|
{hashes}

## Files

| file | content |
|---|---|
| `detections/camXX.npz` | one per camera, as written by `poselift_core.video.detect_video`: `keypoints` ({frames}, 33, 3) float32 = x, y in pixels of the decoded frame (x right, y down) and MediaPipe's visibility; `image_size` (width, height); `fps` {fps:g}; `layout` `blazepose33`; `joint_names`; `detector` (MediaPipe settings). `poselift_core.keypoints.read_keypoints` reads them. |
| `calibration.json` | per camera `name`, `K` (3x3, pixels), `dist` (k1 k2 p1 p2 k3, OpenCV model), `R`, `t` (world -> camera, `X_cam = R X + t`, metres), `image_size` of its video. `poselift_core.multiview.load_calibration` reads it. World: metres, z up (the floor is near z = 0). |
| `reference.npz` | `joints_33` ({frames}, 33, 3) float32 triangulated BlazePose joints, world metres (NaN where fewer than two views were usable); `joints_h36m17` ({frames}, 17, 3) the same in Human3.6M-17 order (`poselift_core.keypoints.to_h36m`'s recipe); `reprojection_error` (4, {frames}, 33) pixels per view (NaN where the view was not used); `used` (4, {frames}, 33); `swapped` (4, {frames}, 3) which views had left/right relabelled per group (`group_names`); `camera_names`, `joint_names`, `fps`. |

## How the reference is made

* Calibration (Qualisys `.qca.txt`, XML): focal lengths, principal point and distortion are in 1/64 sensor
  units and are divided by 64, the principal point shifted by the `fov_video` offsets; the `transform`
  entries `r11..r33`, read row by row, form `M`, and `x, y, z` (mm) is the camera centre `C`; world -> camera
  is `R = Rx(pi) M`, `t = -R C` (the half turn about x turns Qualisys' camera frame, looking along -z with y
  up, into OpenCV's). This is the reading of pose2sim's own `calibration.read_qca`/`calib_qca_fun`.
* cam01 and cam02 are 1080 px wide while the calibration (and cam03, cam04) are 1088 px. The heights agree
  (1920), so the frames are not rescaled; they are taken as the calibrated image without its 8 right-most
  columns, which leaves `K` unchanged (see the crops from the left in the table below).
* Triangulation (`poselift_core.multiview.triangulate_views`): undistort, weighted DLT on normalised
  coordinates (weights = visibility, views below 0.1 dropped), Gauss-Newton on the pixel error, and a view's
  joint dropped when its error exceeds {outlier:g} px while three views remain. Left/right swaps: for each
  frame and each group (face, arms, legs) every labelling of the four views up to a global mirror (8
  hypotheses) is triangulated and the one with the lowest confidence-weighted reprojection error is kept.

## Measurements

Per-view median reprojection error of the reference (pixels) and left/right relabellings per group:

| camera | video | median error (px) | swaps face / arms / legs (frames of {frames}) |
|---|---|---|---|
{views}

Points in front of every camera: {front:.0%}; nose above both ankles in {upright:.0%} of frames.
{detector_line}
Calibration convention, proved by triangulating the same detections under each reading:

| reading | median error per view (px) | points in front of all cameras | nose above ankles |
|---|---|---|---|
{checks}

The lens distortion is too weak to tell the two distortion scalings apart (pose2sim's division by 64 is
kept). The crop of the narrower videos is not well determined either: the constant offsets below are larger
than what the choice changes, so the zero-offset crop (the one that leaves the principal point alone, and
fits cam01 best) is kept.

Part of the error is a constant offset per view. Shifting each principal point by its view's median
residual (a diagnostic, not applied) moves them by {pp_shift} px (x, y) and brings the median errors to
{pp_err} px; a shift of 10 px is a rotation of {deg:.2f} degrees at these focal lengths, the size of a small
calibration drift or of a view-dependent offset of the detector's joints. The reference uses the
calibration as published, so it does not depend on fitting the calibration to these detections.

## Licence of the source data

```
{license}
```
"""


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "demo_capture")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "poselift" / "pose2sim")
    ap.add_argument("--version", default=VERSION, help="pose2sim wheel version (default %(default)s)")
    ap.add_argument("--wheel", type=Path, help="use this pose2sim wheel instead of downloading one")
    ap.add_argument("--detect-python", default=str(ROOT / ".venv-video" / "bin" / "python"),
                    help="interpreter with mediapipe==0.10.21 (default %(default)s)")
    ap.add_argument("--reuse-detections", action="store_true",
                    help="keep the detections in --out; only re-triangulate (no download, no MediaPipe)")
    args = ap.parse_args(argv)
    out: Path = args.out
    det_dir = out / "detections"
    calib_json = out / "calibration.json"

    detector_line = ""
    if args.reuse_detections:
        if not calib_json.exists() or not det_dir.is_dir():
            raise SystemExit(f"build_demo_capture: --reuse-detections needs {det_dir} and {calib_json}")
        meta = json.loads(calib_json.read_text())
        cams = [MultiViewCamera.from_dict(d) for d in meta["calibrated_cameras"]]
        hashes, version, license_text = meta["inputs"], meta["pose2sim_version"], meta["license"]
        readme = out / "README.md"
        if readme.exists():   # keep the detector speed line of the build that made the detections
            detector_line = next((ln + "\n" for ln in readme.read_text().splitlines()
                                  if ln.startswith("Detector speed")), "")
    else:
        wheel = fetch_wheel(args.version, args.cache, args.wheel)
        members = extract(wheel, args.cache / f"extracted-{args.version}")
        files = {k: p for k, (_, p) in members.items()}
        version = args.version
        hashes = {wheel.name: sha256(wheel)}
        hashes.update({m: sha256(p) for k, (m, p) in members.items() if k != "license"})
        license_text = files["license"].read_text().strip() if "license" in files else "(no LICENSE in the wheel)"
        if not Path(args.detect_python).exists():
            raise SystemExit(f"build_demo_capture: --detect-python {args.detect_python} not found; create it "
                             "with `python3 -m venv .venv-video && .venv-video/bin/pip install mediapipe==0.10.21`")
        stats = detect({c: files[c] for c in CAMS}, det_dir, args.detect_python)
        frames = sum(s["frames"] for s in stats.values())
        seconds = sum(s["seconds"] for s in stats.values())
        detector_line = (f"Detector speed at build time: {frames / seconds:.1f} frames/s over {frames} frames "
                         f"(MediaPipe Pose full, CPU, decoding included).\n")
        cams = read_qualisys_calibration(files["calibration"])

    kp, sizes, fps = load_views(det_dir)
    video_cams = fit_to_videos(cams, sizes)
    tri = triangulate(kp.astype(np.float64), video_cams)
    summary = summarise(tri, video_cams)
    checks = convention_checks(kp.astype(np.float64), cams, sizes)
    pp_shift, pp_err = principal_point_diagnostic(kp.astype(np.float64), video_cams)

    out.mkdir(parents=True, exist_ok=True)
    save_calibration(video_cams, calib_json,
                     source=f"pose2sim {version} wheel, {DEMO}/calibration/Calib.qca.txt (BSD-3-Clause)",
                     pose2sim_version=version, inputs=hashes, license=license_text,
                     calibrated_cameras=[c.to_dict() for c in cams],
                     note="'cameras' describe the decoded videos (cam01, cam02: 1080 px wide, the calibrated "
                          "1088 px image without its right-most 8 columns); 'calibrated_cameras' the file as read")
    F = kp.shape[1]
    err = np.where(tri.used, tri.errors, np.nan).astype(np.float32)
    np.savez_compressed(
        out / "reference.npz",
        joints_33=tri.points.astype(np.float32),
        joints_h36m17=h36m17_3d(tri.points).astype(np.float32),
        reprojection_error=err, used=tri.used, swapped=tri.swapped,
        group_names=np.array(tri.group_names), camera_names=np.array(CAMS),
        joint_names=np.load(det_dir / f"{CAMS[0]}.npz")["joint_names"], fps=np.float64(fps),
    )

    swaps = tri.swap_counts()
    views = "\n".join(f"| {c} | {w}x{h} | {m:.1f} | {' / '.join(str(int(n)) for n in s)} |"
                      for c, (w, h), m, s in zip(CAMS, sizes, summary["median_px"], swaps))
    def px(values: list[float]) -> str:      # NaN: every point was behind that camera
        return ", ".join(f"{m:.1f}" if np.isfinite(m) else "behind" for m in values)

    check_rows = "\n".join(f"| {name} | {px(s['median_px'])} | {s['in_front_of_all']:.0%} | {s['upright']:.0%} |"
                           for name, s in checks)
    (out / "README.md").write_text(README.format(
        version=version, demo=DEMO, frames=F, fps=fps, outlier=OUTLIER_PX,
        hashes="\n".join(f"| `{k}` | `{v}` |" for k, v in hashes.items()),
        views=views, front=summary["in_front_of_all"], upright=summary["upright"],
        detector_line=("\n" + detector_line) if detector_line else "", checks=check_rows,
        pp_shift="; ".join(f"{c} ({dx:+.1f}, {dy:+.1f})" for c, (dx, dy) in zip(CAMS, pp_shift)),
        pp_err=", ".join(f"{e:.1f}" for e in pp_err),
        deg=float(np.degrees(np.arctan(10.0 / np.mean([c.K[0, 0] for c in cams])))),
        license=license_text))
    print(f"wrote {out}: median reprojection error per view {summary['median_px']} px, "
          f"swaps per view (face, arms, legs) {swaps.tolist()}")
    for name, s in checks:
        print(f"  {name}: {s}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
