"""2D keypoints from a video file with MediaPipe Pose (BlazePose, 33 landmarks).

Optional: MediaPipe and OpenCV are imported inside :func:`detect_video` only, so ``import poselift_core``
never needs them. ``mediapipe==0.10.21`` is the last release whose wheel bundles the BlazePose *full*
landmark model (``model_complexity=1``) and so runs without a network; it pins ``numpy<2``, which is why it
usually lives in a virtualenv of its own. The output file is plain numpy and is read back by the rest of
the library without MediaPipe.

BlazePose is described in Bazarevsky et al., "BlazePose: On-device Real-time Body Pose tracking" (2020).
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

__all__ = ["BLAZEPOSE_33", "detect_video"]

#: BlazePose landmark names, index order (MediaPipe's ``PoseLandmark`` enum); "left" is the person's left.
BLAZEPOSE_33: tuple[str, ...] = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
    "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_pinky",
    "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb", "left_hip", "right_hip",
    "left_knee", "right_knee", "left_ankle", "right_ankle", "left_heel", "right_heel",
    "left_foot_index", "right_foot_index",
)


def detect_video(
    path: str | Path,
    out_npz: str | Path | None,
    progress: bool = True,
    *,
    model_complexity: int = 1,
    max_frames: int | None = None,
    min_detection_confidence: float = 0.5,
    min_tracking_confidence: float = 0.5,
) -> dict:
    """Run MediaPipe Pose on every frame of a video.

    MediaPipe runs in video mode (``static_image_mode=False``): the person found in one frame is tracked
    into the next and landmarks are temporally smoothed, so a result depends on the frames before it and a
    re-run must start at frame 0 to reproduce it.

    Args:
        path: video file readable by OpenCV.
        out_npz: where to write the result (``np.savez_compressed``); ``None`` writes nothing.
        progress: print a one-line progress counter to stderr.
        model_complexity: 1 (BlazePose full) is bundled with ``mediapipe==0.10.21``; 0 and 2 download a
            model at run time.
        max_frames: stop after this many frames (``None``: the whole video).
        min_detection_confidence, min_tracking_confidence: MediaPipe's thresholds.

    Returns:
        dict with ``keypoints`` (F, 33, 3) float32: x, y in pixels of the decoded frame (origin at the
        top-left pixel's corner, x right, y down) and MediaPipe's ``visibility`` in [0, 1]; frames without a
        person are NaN with visibility 0. ``image_size`` (2,) int: width, height. ``fps`` float,
        ``layout`` ``"blazepose33"``, ``joint_names`` (33,), ``detector`` (a description string) - the keys
        written to ``out_npz``, which :func:`poselift_core.keypoints.read_keypoints` reads - and ``seconds``
        (decoding + detection wall time, not written, so the file depends only on the video).
    """
    try:
        import cv2
        import mediapipe as mp
    except ImportError as exc:  # one line that says what to install, not a traceback into mediapipe
        raise ImportError(
            f"detect_video needs MediaPipe and OpenCV ({exc}); install them with "
            "`pip install mediapipe==0.10.21` (it requires numpy<2, so use a separate virtualenv)"
        ) from exc

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise ValueError(f"{path}: OpenCV cannot open this video")
    fps = float(cap.get(cv2.CAP_PROP_FPS))
    expected = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    if max_frames is not None:
        expected = min(expected, max_frames)

    rows: list[np.ndarray] = []
    size: tuple[int, int] | None = None
    nan_row = np.full((33, 3), np.nan, np.float32)
    nan_row[:, 2] = 0.0
    t0 = time.perf_counter()
    with mp.solutions.pose.Pose(
        static_image_mode=False,
        model_complexity=model_complexity,
        smooth_landmarks=True,
        enable_segmentation=False,
        min_detection_confidence=min_detection_confidence,
        min_tracking_confidence=min_tracking_confidence,
    ) as pose:
        while max_frames is None or len(rows) < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            if size is None:
                size = (w, h)
            elif size != (w, h):
                raise ValueError(f"{path}: frame {len(rows)} is {w}x{h}, earlier frames {size[0]}x{size[1]}")
            res = pose.process(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
            if res.pose_landmarks is None:
                rows.append(nan_row)
            else:
                lm = res.pose_landmarks.landmark
                # MediaPipe normalises x by the width and y by the height of the frame it was given.
                rows.append(np.array([[p.x * w, p.y * h, p.visibility] for p in lm], np.float32))
            if progress:
                print(f"\r{path.name}: frame {len(rows)}/{expected}", end="", file=sys.stderr, flush=True)
    cap.release()
    seconds = time.perf_counter() - t0
    if progress:
        print(f"\r{path.name}: {len(rows)} frames in {seconds:.1f} s "
              f"({len(rows) / max(seconds, 1e-9):.1f} frames/s)", file=sys.stderr)
    if not rows:
        raise ValueError(f"{path}: no frame could be decoded")

    out = {
        "keypoints": np.stack(rows),
        "image_size": np.array(size, np.int64),
        "fps": np.float64(fps),
        "layout": np.array("blazepose33"),
        "joint_names": np.array(BLAZEPOSE_33),
        "detector": np.array(
            f"mediapipe {mp.__version__} solutions.pose model_complexity={model_complexity} "
            f"static_image_mode=False smooth_landmarks=True min_detection_confidence={min_detection_confidence} "
            f"min_tracking_confidence={min_tracking_confidence}"
        ),
    }
    if out_npz is not None:
        Path(out_npz).parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(out_npz, **out)
    return {**out, "seconds": np.float64(seconds)}

