"""Figures for the book: skeletons in 2D and 3D, graph matrices, GridConv's semantic grid, curves and results.

matplotlib draws the static figures (PNG in the book); plotly draws the interactive 3D viewer, whose animation
frames, slider and play button keep working in the static HTML page without a kernel. One colour rule holds in
every figure: the subject's left side blue, the right side red, the centre line grey (chapter 2, "Skeletons").
Every function accepts numpy arrays or torch tensors.
"""
from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.colors import BoundaryNorm, ListedColormap, to_rgb
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import IdentityTransform

from .skeleton import Skeleton, get_skeleton

__all__ = [
    "BOOK_BUILD_ENV",
    "setup_notebook_plotting",
    "bone_sides",
    "chain_heads",
    "plot_skeleton_3d",
    "plot_prediction_3d",
    "plot_depth_ambiguity",
    "plot_per_joint_error",
    "plot_skeleton_2d",
    "plot_camera_views",
    "plot_adjacency",
    "plot_weight_sharing",
    "plot_sgt",
    "plot_training_curves",
    "plot_results_bar",
    "plot_accuracy_vs_size",
    "label_points",
    "repel_intervals",
]

SIDE_COLORS = {"left": "#1f77b4", "right": "#d62728", "centre": "#555555"}
BOOK_BUILD_ENV = "POSELIFT_BOOK_BUILD"
_BOOK_RENDERER = "poselift_book"


# --------------------------------------------------------------------------- notebook set-up
def setup_notebook_plotting() -> str | None:
    """Make plotly figures survive papermill + Jupyter Book 1; a no-op outside the book build.

    Under papermill the default plotly renderer emits only the ``application/vnd.plotly.v1+json`` mime type, which
    Jupyter Book 1 drops, so the figure vanishes from the page. When ``POSELIFT_BOOK_BUILD=1`` (set by
    ``make book``) this registers a renderer that emits a bare ``text/html`` div: no copy of plotly.js (the book
    loads the vendored ``plotly.min.js`` once per page) and no MathJax ``<script>`` from a CDN, which plotly's own
    ``notebook`` renderer adds to every figure. Colab and Jupyter keep their default renderers.

    Returns the name of the renderer it activated, or ``None``.
    """
    if os.environ.get(BOOK_BUILD_ENV) != "1":
        return None
    import plotly.io as pio
    from plotly.io.base_renderers import HtmlRenderer

    class StaticBookRenderer(HtmlRenderer):
        def to_mimebundle(self, fig_dict: dict) -> dict:
            # auto_play=False: an animated figure starts at its first frame, where its slider says it is
            html = pio.to_html(fig_dict, include_plotlyjs=False, include_mathjax=False, full_html=False,
                               default_width="100%", default_height=525, validate=False, auto_play=False,
                               config={"responsive": True, "displaylogo": False})
            return {"text/html": html}

    pio.renderers[_BOOK_RENDERER] = StaticBookRenderer(include_plotlyjs=False)
    pio.renderers.default = _BOOK_RENDERER
    return _BOOK_RENDERER


# --------------------------------------------------------------------------- helpers
def _np(x: Any) -> np.ndarray:
    """numpy float array from a numpy array, a list or a (possibly CUDA, grad-tracking) torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x, dtype=float)


def _names(names: Skeleton | Sequence[str] | None, J: int) -> list[str]:
    if names is None:
        return [str(j) for j in range(J)]
    names = list(names.names) if isinstance(names, Skeleton) else list(names)
    if len(names) != J:
        raise ValueError(f"{len(names)} names for a {J}x{J} matrix")
    return names


def bone_sides(skeleton: Skeleton | str) -> list[str]:
    """Side of each bone in ``skeleton.edges`` order: ``"left"``, ``"right"`` or ``"centre"`` (the child's side)."""
    sk = get_skeleton(skeleton)
    side = {**{j: "left" for j in sk.left}, **{j: "right" for j in sk.right}}
    return [side.get(child, "centre") for child, _ in sk.edges]


def chain_heads(skeleton: Skeleton | str) -> list[int]:
    """Kinematic chain of each joint, named by its first joint: walk up while the parent has a single child.

    For H36M-17 this gives seven chains: root, right leg, left leg, spine (Spine, Thorax), head (Neck/Nose, Head),
    left arm, right arm. Used to colour the semantic grid consistently with the skeleton.
    """
    sk = get_skeleton(skeleton)
    heads = []
    for j in range(sk.num_joints):
        while sk.parents[j] >= 0 and len(sk.children[sk.parents[j]]) == 1:
            j = sk.parents[j]
        heads.append(j)
    return heads


# --------------------------------------------------------------------------- 3D viewer (plotly)
# Rotations from data coordinates to plotly's display frame, where z points up.
_UP = {
    "z": np.eye(3),
    # Camera space: x right, y down, z forward. Display (x, z, -y): depth runs along the display's y axis.
    "-y": np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, -1.0, 0.0]]),
}
_AXIS_TITLES = {"z": ("x", "y", "z"), "-y": ("x (right)", "z (depth)", "-y (up)")}
_EYE = {"z": dict(x=1.4, y=-1.4, z=0.6), "-y": dict(x=0.0, y=-2.0, z=0.4)}


def _trace_xyz(P: np.ndarray, skeleton: Skeleton) -> list[np.ndarray]:
    """Coordinates of the four traces for all frames at once, each ``(N, points, 3)``: left, right, centre bones
    (child, parent, NaN gap per bone, in ``skeleton.edges`` order) and the joints."""
    edges, sides = np.array(skeleton.edges), np.array(bone_sides(skeleton))
    out = []
    for side in ("left", "right", "centre"):
        e = edges[sides == side].reshape(-1, 2)
        seg = np.full((len(P), len(e), 3, 3), np.nan)  # the NaN row breaks the line between bones
        seg[:, :, 0], seg[:, :, 1] = P[:, e[:, 0]], P[:, e[:, 1]]
        out.append(seg.reshape(len(P), -1, 3))
    return out + [P]


def _xyz(points: np.ndarray) -> dict:
    return dict(x=points[:, 0], y=points[:, 1], z=points[:, 2])


def _scene(P: np.ndarray, up: str) -> dict:
    """A plotly 3D scene whose equal axes hold every point of ``P`` ``(N, points, 3)`` (display frame)."""
    centre = (np.nanmax(P, axis=(0, 1)) + np.nanmin(P, axis=(0, 1))) / 2
    half = max(float(np.nanmax(np.ptp(P.reshape(-1, 3), axis=0))) / 2, 1e-3) * 1.05
    return dict(aspectmode="cube", camera=dict(eye=_EYE[up], up=dict(x=0, y=0, z=1)),
                **{f"{a}axis": dict(range=[c - half, c + half], title=t)
                   for a, c, t in zip("xyz", centre, _AXIS_TITLES[up])})


def _animated(fig: Any, frames: list[dict], fps: float) -> Any:
    """``fig`` with ``frames`` (named "0" .. "n-1"), a play button and a frame slider."""
    import plotly.graph_objects as go

    menus, sliders = _animation_controls(len(frames), fps)
    fig.update_layout(updatemenus=menus, sliders=sliders)
    return go.Figure(fig.to_dict() | {"frames": frames}, _validate=False)


def _animation_controls(n: int, fps: float) -> tuple[list, list]:
    """Play/pause buttons and a frame slider for frames named "0" .. "n-1"."""
    still = dict(mode="immediate", frame=dict(duration=0, redraw=True), transition=dict(duration=0))
    play = dict(frame=dict(duration=1000.0 / fps, redraw=True), fromcurrent=True, transition=dict(duration=0))
    buttons = [dict(label="Play", method="animate", args=[None, play]),
               dict(label="Pause", method="animate", args=[[None], still])]
    menus = [dict(type="buttons", direction="left", x=0.0, y=0.0, xanchor="left", yanchor="top",
                  pad=dict(t=40, r=10), showactive=False, buttons=buttons)]
    steps = [dict(method="animate", label=str(i), args=[[str(i)], still]) for i in range(n)]
    # past ~30 frames the tick labels overlap: hide them, the current frame is still shown above the slider
    tick_font = dict(color="rgba(0,0,0,0)") if n > 30 else dict()
    current = dict(prefix="frame ", visible=True, font=dict(size=12, color="#444"))
    sliders = [dict(active=0, steps=steps, x=0.12, len=0.88, y=0.0, yanchor="top", pad=dict(t=30),
                    font=tick_font, currentvalue=current)]
    return menus, sliders


def plot_skeleton_3d(poses: Any, skeleton: Skeleton | str = "h36m17", fps: float = 50.0,
                     title: str | None = None, up: str = "z", height: int = 550):
    """Interactive 3D skeleton: one pose, or a sequence with a frame slider and a play button.

    Args:
        poses: ``(J, 3)`` one pose or ``(N, J, 3)`` a sequence (metres).
        skeleton: a :class:`Skeleton` or its name.
        fps: playback rate of the play button (Human3.6M: 50).
        up: the data axis that points up: ``"z"`` (world/mocap coordinates) or ``"-y"`` (camera coordinates:
            x right, y down, z forward; shown as seen from the camera).
    Returns a ``plotly.graph_objects.Figure`` with 4 traces (left, right, centre bones as NaN-separated
    child-parent segments in ``skeleton.edges`` order, then the joints). A sequence adds one animation frame per
    pose (named ``"0"`` .. ``"N-1"``) and a slider step per frame; the axes are fixed to the whole sequence's
    bounding cube so the aspect ratio is equal and does not jump during playback. Each frame costs ~1 ms to build
    and ~2 KB of page: show at most a few hundred (e.g. ``poses[::5]`` with ``fps=10`` for 50 Hz data).
    """
    import plotly.graph_objects as go

    if up not in _UP:
        raise ValueError(f"up must be one of {sorted(_UP)}, got {up!r}")
    sk = get_skeleton(skeleton)
    P = _np(poses)
    if P.ndim == 2:
        P = P[None]
    if P.ndim != 3 or P.shape[1:] != (sk.num_joints, 3):
        raise ValueError(f"poses must be (J, 3) or (N, J, 3) with J={sk.num_joints}, got {tuple(_np(poses).shape)}")
    P = P @ _UP[up].T  # (N, J, 3) in the display frame
    scene = _scene(P, up)
    xyz = _trace_xyz(P, sk)
    traces = [go.Scatter3d(**_xyz(pts[0]), mode="lines", name=f"{side} bones", hoverinfo="skip",
                           line=dict(color=SIDE_COLORS[side], width=6))
              for pts, side in zip(xyz, ("left", "right", "centre"))]
    traces.append(go.Scatter3d(**_xyz(P[0]), mode="markers", name="joints", text=list(sk.names),
                               hoverinfo="text", marker=dict(size=3, color="black")))
    fig = go.Figure(data=traces)
    fig.update_layout(title=title, scene=scene, height=height, margin=dict(l=0, r=0, t=40 if title else 10, b=0),
                      legend=dict(x=0.0, y=1.0), uirevision="keep")
    if len(P) > 1:
        # Frames carry only coordinates (the styles stay with the traces), as lists rounded to 0.1 mm, so the page
        # stays small; plain lists with plotly's `_validate=False` skip its per-array checks (5x faster to build).
        coords = [np.round(pts, 4).transpose(2, 0, 1).tolist() for pts in xyz]  # (3, N, points) per trace
        frames = [dict(name=str(i), data=[dict(type="scatter3d", x=c[0][i], y=c[1][i], z=c[2][i]) for c in coords])
                  for i in range(len(P))]  # NaN gaps become null in the page's JSON
        fig = _animated(fig, frames, fps)
    return fig


def plot_prediction_3d(pred: Any, target: Any, skeleton: Skeleton | str = "h36m17", fps: float = 10.0,
                       labels: Sequence[str] | None = None, title: str | None = None, up: str = "-y",
                       height: int = 520):
    """Predicted and ground-truth 3D poses in one rotatable scene, with one frame slider for both.

    Args:
        pred, target: ``(J, 3)`` or ``(N, J, 3)`` metres, root-relative camera coordinates by default (``up="-y"``;
            ``"z"`` for world coordinates).
        labels: one caption per frame shown above the slider (e.g. ``"Walk, camera 2, frame 340: 61 mm"``).
    Returns a plotly ``Figure``: the truth as a grey skeleton, the prediction in the side colours (left blue,
    right red), and the frames' per-joint error as hover text on the predicted joints. Frames and slider work
    in the static book page without a kernel.
    """
    import plotly.graph_objects as go

    if up not in _UP:
        raise ValueError(f"up must be one of {sorted(_UP)}, got {up!r}")
    sk = get_skeleton(skeleton)
    P, T = _np(pred), _np(target)
    P, T = (P[None] if P.ndim == 2 else P), (T[None] if T.ndim == 2 else T)
    if P.shape != T.shape or P.ndim != 3 or P.shape[1:] != (sk.num_joints, 3):
        raise ValueError(f"pred and target must both be (N, {sk.num_joints}, 3); got {tuple(P.shape)} and "
                         f"{tuple(T.shape)}")
    if labels is not None and len(labels) != len(P):
        raise ValueError(f"labels has {len(labels)} entries for {len(P)} frames")
    err_mm = np.linalg.norm(P - T, axis=-1) * 1000.0                  # (N, J)
    P, T = P @ _UP[up].T, T @ _UP[up].T
    scene = _scene(np.concatenate([P, T], axis=1), up)
    truth_bones = np.concatenate(_trace_xyz(T, sk)[:3], axis=1)     # all bones of the truth, (N, points, 3)
    xyz = _trace_xyz(P, sk)
    hover = [[f"{n}: {e:.0f} mm" for n, e in zip(sk.names, row)] for row in err_mm]
    traces = [go.Scatter3d(**_xyz(truth_bones[0]), mode="lines", name="ground truth", hoverinfo="skip",
                           line=dict(color="rgba(60,60,60,0.45)", width=9))]
    traces += [go.Scatter3d(**_xyz(pts[0]), mode="lines", name=f"predicted, {side}", hoverinfo="skip",
                            line=dict(color=SIDE_COLORS[side], width=5))
               for pts, side in zip(xyz[:3], ("left", "right", "centre"))]
    traces.append(go.Scatter3d(**_xyz(P[0]), mode="markers", name="predicted joints", text=hover[0],
                               hoverinfo="text", marker=dict(size=3, color="black")))
    fig = go.Figure(data=traces)
    heading = title if labels is None else (f"{title}<br><sub>{labels[0]}</sub>" if title else labels[0])
    fig.update_layout(title=heading, scene=scene, height=height, margin=dict(l=0, r=0, t=60, b=0),
                      legend=dict(x=0.0, y=1.0, font=dict(size=10)), uirevision="keep")
    if len(P) > 1:
        coords = [np.round(pts, 4).transpose(2, 0, 1).tolist() for pts in [truth_bones] + xyz]
        frames = []
        for i in range(len(P)):
            data = [dict(type="scatter3d", x=c[0][i], y=c[1][i], z=c[2][i]) for c in coords]
            data[-1]["text"] = hover[i]
            frame = dict(name=str(i), data=data)
            if labels is not None:
                frame["layout"] = dict(title=dict(text=f"{title}<br><sub>{labels[i]}</sub>" if title else labels[i]))
            frames.append(frame)
        fig = _animated(fig, frames, fps)
    return fig


def plot_per_joint_error(errors_mm: Any, skeleton: Skeleton | str = "h36m17", ax: Axes | None = None,
                         title: str | None = None, baseline_mm: Any = None) -> Axes:
    """Horizontal bars of the mean error of each joint ``(J,)`` in millimetres, coloured by body side.

    ``baseline_mm``: an optional second ``(J,)`` series (e.g. the mean training pose) drawn as outlined bars.
    """
    sk = get_skeleton(skeleton)
    e = _np(errors_mm).reshape(-1)
    if len(e) != sk.num_joints:
        raise ValueError(f"errors_mm has {len(e)} entries for the {sk.num_joints} joints of {sk.name}")
    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 0.28 * sk.num_joints + 1.0), layout="constrained")
    side = ["centre"] * sk.num_joints
    for j in sk.left:
        side[j] = "left"
    for j in sk.right:
        side[j] = "right"
    y = np.arange(sk.num_joints)
    if baseline_mm is not None:
        b = _np(baseline_mm).reshape(-1)
        ax.barh(y, b, color="none", edgecolor="#999999", ls="--", label="mean training pose")
    ax.barh(y, e, height=0.6, color=[SIDE_COLORS[s] for s in side], label="model")
    ax.set_yticks(y, list(sk.names), fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("mean joint error (mm)")
    if baseline_mm is not None:
        ax.legend(fontsize=8, loc="lower right")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


# --------------------------------------------------------------------------- 2D skeletons (matplotlib)
def plot_skeleton_2d(keypoints: Any, skeleton: Skeleton | str = "h36m17", ax: Axes | None = None,
                     image_size: tuple[int, int] | None = None, labels: bool = False,
                     title: str | None = None) -> Axes:
    """One 2D pose in image coordinates (x right, y down), bones coloured by side.

    Args:
        keypoints: ``(J, 2)`` pixels (normalised coordinates work too; y is still drawn downwards).
        image_size: ``(width, height)``: frame the axes on the whole image.
        labels: write each joint's name beside it.
    Returns the Axes; ``ax.collections[0]`` holds one bone segment per ``skeleton.edges`` entry (child, parent),
    ``ax.collections[1]`` the joints.
    """
    sk = get_skeleton(skeleton)
    kp = _np(keypoints)
    if kp.shape != (sk.num_joints, 2):
        raise ValueError(f"keypoints must be (J, 2) with J={sk.num_joints}, got {kp.shape}")
    ax = ax if ax is not None else plt.subplots(figsize=(4, 4), layout="constrained")[1]
    edges = np.array(sk.edges)
    colors = [SIDE_COLORS[s] for s in bone_sides(sk)]
    ax.add_collection(LineCollection(kp[edges], colors=colors, linewidths=2.5))
    ax.scatter(kp[:, 0], kp[:, 1], s=12, c="black", zorder=3)
    if labels:
        for name, (x, y) in zip(sk.names, kp):
            ax.annotate(name, (x, y), xytext=(3, 3), textcoords="offset points", fontsize=7)
    if image_size is not None:
        ax.set_xlim(0, image_size[0])
        ax.set_ylim(image_size[1], 0)
    else:
        ax.autoscale_view()
        ax.invert_yaxis()
    ax.set_aspect("equal")
    if title:
        ax.set_title(title)
    return ax


def plot_camera_views(sequence_pixels: Sequence[Any], skeleton: Skeleton | str,
                      resolutions: Sequence[tuple[int, int]], titles: Sequence[str] | None = None) -> Figure:
    """One pose seen by several cameras (Human3.6M has 4): a 1 x V panel of :func:`plot_skeleton_2d`.

    Args:
        sequence_pixels: V arrays ``(J, 2)`` in pixels, one per camera.
        resolutions: V ``(width, height)`` pairs; each panel shows the whole image frame.
    """
    if len(sequence_pixels) != len(resolutions):
        raise ValueError(f"{len(sequence_pixels)} views but {len(resolutions)} resolutions")
    titles = titles or [f"camera {i}" for i in range(len(sequence_pixels))]
    fig, axes = plt.subplots(1, len(sequence_pixels), figsize=(3.2 * len(sequence_pixels), 3.4),
                             squeeze=False, layout="constrained")
    for ax, kp, res, t in zip(axes[0], sequence_pixels, resolutions, titles):
        plot_skeleton_2d(kp, skeleton, ax=ax, image_size=res, title=t)
        ax.tick_params(labelsize=7)
    return fig


# --------------------------------------------------------------------------- graph matrices
def _matrix_axes(ax: Axes | None, names: list[str], title: str | None) -> Axes:
    ax = ax if ax is not None else plt.subplots(figsize=(5.5, 4.8), layout="constrained")[1]
    ticks = np.arange(len(names))
    ax.set_xticks(ticks, names, rotation=90, fontsize=7)
    ax.set_yticks(ticks, names, fontsize=7)
    ax.set_xlabel("sender joint")
    ax.set_ylabel("receiver joint")
    if title:
        ax.set_title(title)
    return ax


def plot_adjacency(A: Any, names: Skeleton | Sequence[str] | None = None, ax: Axes | None = None,
                   title: str | None = None, cmap: str = "Blues") -> Axes:
    """Heatmap of a (normalised) adjacency matrix ``(J, J)``; row ``i`` is the receiving joint.

    ``ax.images[0].get_array()`` is ``A``.
    """
    A = _np(A)
    if A.ndim != 2 or A.shape[0] != A.shape[1]:
        raise ValueError(f"adjacency must be a square (J, J) matrix, got {A.shape}")
    ax = _matrix_axes(ax, _names(names, len(A)), title)
    im = ax.imshow(A, cmap=cmap, interpolation="nearest")
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    return ax


def plot_weight_sharing(index_matrix: Any, names: Skeleton | Sequence[str] | None = None,
                        ax: Axes | None = None, title: str | None = None) -> Axes:
    """Which weight block transforms each (receiver, sender) pair: one colour per block id.

    Args:
        index_matrix: ``(J, J)`` integer block ids; ``-1`` or NaN where the pair is not connected (drawn white).
    Shows how the GCN variants of chapter 3 differ only in this matrix: one id everywhere (vanilla GCN), one for
    the self-loop and one for neighbours (SemGCN-style), one per edge (locally connected), etc. ``ax.images[0]``
    holds the ids as a masked array (masked = no edge).
    """
    M = _np(index_matrix)
    if M.ndim != 2 or M.shape[0] != M.shape[1]:
        raise ValueError(f"index_matrix must be a square (J, J) matrix, got {M.shape}")
    ids = np.ma.masked_where(~np.isfinite(M) | (M < 0), M)
    k = int(ids.max()) + 1 if ids.count() else 1
    base = plt.get_cmap("tab10" if k <= 10 else "tab20" if k <= 20 else "viridis")
    colours = base(np.arange(k) % base.N) if k <= 20 else base(np.linspace(0, 1, k))
    cmap = ListedColormap(colours).with_extremes(bad="white")
    J = len(M)
    ax = _matrix_axes(ax, _names(names, J), title)
    im = ax.imshow(ids, cmap=cmap, norm=BoundaryNorm(np.arange(k + 1) - 0.5, k), interpolation="nearest")
    ax.set_xticks(np.arange(J + 1) - 0.5, minor=True)
    ax.set_yticks(np.arange(J + 1) - 0.5, minor=True)
    ax.grid(which="minor", color="0.85", linewidth=0.5)
    ax.tick_params(which="minor", length=0)
    if k <= 20:
        cbar = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04, ticks=np.arange(k))
        cbar.set_label("weight block id")
    return ax


# --------------------------------------------------------------------------- GridConv's semantic grid
# A front view of the H36M joints (image coordinates, y down; the subject's right is image-left), used when
# plot_sgt gets no pose. Keyed by name so H36M-16 and HumanEva-15 (via aliases) work too.
_FRONT_VIEW = {
    "Hip": (0, 0), "RHip": (-0.15, 0), "RKnee": (-0.17, 0.45), "RFoot": (-0.18, 0.9), "LHip": (0.15, 0),
    "LKnee": (0.17, 0.45), "LFoot": (0.18, 0.9), "Spine": (0, -0.25), "Thorax": (0, -0.5), "Neck/Nose": (0, -0.6),
    "Head": (0, -0.72), "LShoulder": (0.2, -0.5), "LElbow": (0.3, -0.25), "LWrist": (0.36, -0.02),
    "RShoulder": (-0.2, -0.5), "RElbow": (-0.3, -0.25), "RWrist": (-0.36, -0.02),
    "Pelvis": (0, 0), "LAnkle": (0.18, 0.9), "RAnkle": (-0.18, 0.9),
}


def _grid_weights(grid: Any, sk: Skeleton, grid_shape: tuple[int, int]) -> np.ndarray:
    """``(H*W, J)`` weights from either that matrix or an ``(H, W)`` table of joint names (tuples = mean)."""
    H, W = grid_shape
    if isinstance(grid, (list, tuple)) and grid and isinstance(grid[0][0], (str, tuple, list)):
        if len(grid) != H or any(len(row) != W for row in grid):
            raise ValueError(f"name table must be {H}x{W}")
        import torch  # only here: the table is read by GridConv's own SGT matrix

        from .models.gridconv import sgt_matrix

        return sgt_matrix(torch.float64, grid, sk).numpy()
    Wm = _np(grid)
    if Wm.shape != (H * W, sk.num_joints):
        raise ValueError(f"grid assignment must be ({H * W}, {sk.num_joints}) or a {H}x{W} name table, "
                         f"got shape {Wm.shape}")
    return Wm


def _cell_label(weights: np.ndarray, names: Sequence[str]) -> str:
    used = np.flatnonzero(weights)
    if len(used) == 1:
        return names[used[0]]
    return "mean(" + ",\n".join(names[j] for j in used) + ")"


def plot_sgt(grid_assignment: Any, skeleton: Skeleton | str = "h36m17", pose2d: Any = None,
             grid_shape: tuple[int, int] = (5, 5)) -> Figure:
    """GridConv's semantic grid transformation: the skeleton (left) and the grid its joints fill (right).

    Args:
        grid_assignment: ``(H*W, J)`` matrix (grid cell k = sum_j W[k, j] joint_j, row-major cells) or an
            ``(H, W)`` table of joint names, a tuple of names meaning their mean (as GridConv's centre cell).
        pose2d: ``(J, 2)`` image-coordinate pose for the left panel; default: a front view of the H36M joints.
    Joints, bones and grid cells share one colour per kinematic chain (:func:`chain_heads`), so the reader sees
    where each limb lands; a joint written in several cells is averaged on the way back (chapter 5). Cell labels
    are ``axes[1].texts`` at data position (column, row): a joint name, or ``mean(a,\\nb)``.
    """
    sk = get_skeleton(skeleton)
    Wm = _grid_weights(grid_assignment, sk, grid_shape)
    if pose2d is None:
        missing = [n for n in sk.names if n not in _FRONT_VIEW]
        if missing:
            raise ValueError(f"no default layout for joints {missing}: pass pose2d")
        pose2d = [_FRONT_VIEW[n] for n in sk.names]
    kp = _np(pose2d)
    heads = np.array(chain_heads(sk))
    palette = {h: plt.get_cmap("tab10")(i % 10) for i, h in enumerate(dict.fromkeys(heads))}
    joint_rgb = np.array([to_rgb(palette[h]) for h in heads])  # (J, 3)

    fig, (ax_s, ax_g) = plt.subplots(1, 2, figsize=(10, 4.6), gridspec_kw=dict(width_ratios=[1, 1.25]),
                                   layout="constrained")
    edges = np.array(sk.edges)
    ax_s.add_collection(LineCollection(kp[edges], colors=joint_rgb[edges[:, 0]], linewidths=3))
    ax_s.scatter(kp[:, 0], kp[:, 1], c=joint_rgb, s=30, zorder=3, edgecolors="black", linewidths=0.5)
    for name, (x, y) in zip(sk.names, kp):  # labels point away from the centre line
        ax_s.annotate(name, (x, y), xytext=(-4 if x < 0 else 4, 2), textcoords="offset points", fontsize=7,
                      ha="right" if x < 0 else "left")
    ax_s.autoscale_view()
    ax_s.invert_yaxis()
    ax_s.set_aspect("equal")
    ax_s.axis("off")
    ax_s.set_title("skeleton (joint order is arbitrary)")

    H, W = grid_shape
    dominant = Wm.argmax(1)  # the chain colour of a mixed cell is that of its heaviest joint
    cell_rgb = 0.45 * joint_rgb[dominant] + 0.55  # lightened so the text stays readable
    ax_g.imshow(cell_rgb.reshape(H, W, 3), interpolation="nearest")
    for k in range(H * W):
        ax_g.text(k % W, k // W, _cell_label(Wm[k], sk.names), ha="center", va="center", fontsize=7)
    ax_g.set_xticks(np.arange(W))
    ax_g.set_yticks(np.arange(H))
    ax_g.set_xticks(np.arange(W + 1) - 0.5, minor=True)
    ax_g.set_yticks(np.arange(H + 1) - 0.5, minor=True)
    ax_g.grid(which="minor", color="white", linewidth=2)
    ax_g.tick_params(which="minor", length=0)
    ax_g.set_title(f"{H}x{W} semantic grid (duplicates averaged back)")
    return fig


# --------------------------------------------------------------------------- training and results
_CURVE_PANELS = (("loss", lambda k: "loss" in k), ("error (mm)", lambda k: "mpjpe" in k or k.endswith("_mm")),
                 ("learning rate", lambda k: k == "lr"))


def _columns(rows: Mapping[str, Sequence[float]] | Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
    """A dict of float arrays from either a dict of lists or a list of dicts (missing values and ``None``: NaN)."""
    if not isinstance(rows, Mapping):
        keys = list(dict.fromkeys(k for row in rows for k in row))
        rows = {k: [row.get(k) for row in rows] for k in keys}
    out = {}
    for k, v in rows.items():
        try:
            out[k] = np.array([np.nan if x is None else x for x in v], dtype=float)
        except (TypeError, ValueError):      # a non-numeric column (a name, a note): not a curve
            continue
    return out


def _every(steps: np.ndarray) -> str:
    """``"every 10 steps"`` from the step numbers of a logged series (their most common spacing)."""
    gaps = np.diff(steps[np.isfinite(steps)])
    if not len(gaps):
        return "logged in the epoch"
    values, counts = np.unique(gaps, return_counts=True)
    return f"every {int(values[counts.argmax()])} steps"


def plot_training_curves(history: Mapping[str, Any] | Sequence[Mapping[str, Any]],
                         steps: Mapping[str, Sequence[float]] | Sequence[Mapping[str, Any]] | None = None) -> Figure:
    """Training curves, one panel per kind: losses, errors in mm (``*mpjpe*``), learning rate (log scale).

    Args:
        history: the per-epoch values, ``{"epoch": [...], "loss": [...], "mpjpe": [...], "lr": [...]}`` or the
            same as a list of per-epoch dicts (``results["history"]``); or a whole results dict (the return value
            of :func:`poselift_core.train.train`, or ``results.json``), whose ``history`` and ``step_history`` are
            used. Keys matching no panel are ignored; ``epoch`` (default 1..n) is the x axis.
        steps: values logged inside the epochs (``results["step_history"]``, recipes with ``log_every`` /
            ``eval_every_steps``): rows with a fractional ``epoch`` and ``loss``/``lr`` or ``mpjpe``/``p_mpjpe``
            (and ``frames``, the number of test frames scored).
    The x axis is in epochs. Without ``steps`` each series is a line (with markers below 30 points). With
    ``steps`` the logged values are lines (``ax.lines`` first, one per key, in the order of the keys) and the
    per-epoch values are drawn on top as larger markers without a line (the epoch's mean loss, the end-of-epoch
    evaluation on the recipe's full frame budget); an epoch's mean loss is drawn at the middle of its epoch
    (``epoch - 0.5``), an evaluation at its end; the learning rate comes from ``steps`` only.
    """
    if isinstance(history, Mapping) and "history" in history:      # a results dict
        steps = history.get("step_history") if steps is None else steps
        history = history["history"]
    per_epoch = _columns(history)
    logged = _columns(steps) if steps else {}
    if logged and "epoch" not in logged:
        raise ValueError(f"steps rows need a fractional 'epoch' key, got {sorted(logged)}")
    n = max((len(v) for v in per_epoch.values()), default=0)
    x = per_epoch.get("epoch", np.arange(1, n + 1, dtype=float))
    skip = {"epoch", "step", "frames", "time_s"}
    panels = []
    for label, match in _CURVE_PANELS:
        keys = [k for k in dict.fromkeys([*logged, *per_epoch]) if k not in skip and match(k)]
        if keys:
            panels.append((label, keys))
    if not panels:
        raise ValueError(f"history has no loss, mpjpe or lr keys: {sorted(per_epoch)}")
    fig, axes = plt.subplots(1, len(panels), figsize=(4.2 * len(panels), 3.2), squeeze=False,
                             layout="constrained")
    for ax, (label, keys) in zip(axes[0], panels):
        colour = {k: f"C{i}" for i, k in enumerate(keys)}
        for k in keys:                                   # logged inside the epochs: lines
            if k in logged:
                ok = np.isfinite(logged[k])
                extra = ""
                if "frames" in logged and np.isfinite(logged["frames"][ok]).any():
                    extra = f", {int(np.nanmedian(logged['frames'][ok])):,} frames"
                ax.plot(logged["epoch"][ok], logged[k][ok], color=colour[k], lw=1.2, marker=".", ms=4,
                        label=f"{k} ({_every(logged.get('step', np.full(len(ok), np.nan))[ok])}{extra})")
        for k in keys:                                   # one value per epoch
            if k not in per_epoch or (logged and k == "lr"):
                continue
            y = per_epoch[k]
            ok = np.isfinite(y[: len(x)])
            if logged:
                # a mean over the epoch sits at the epoch's middle; an evaluation at the epoch's end
                what, at = ("epoch mean", x - 0.5) if "loss" in k else ("end of epoch", x)
                ax.plot(at[: len(y)][ok], y[ok], ls="none", marker="o", ms=6, mfc="white", mec=colour[k], mew=1.5,
                        label=f"{k} ({what})", zorder=3)
            else:
                ax.plot(x[: len(y)][ok], y[ok], color=colour[k], label=k, marker="o" if n < 30 else None, ms=3)
        ax.set_xlabel("epoch")
        ax.set_ylabel(label)
        if label == "learning rate":
            ax.set_yscale("log")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    return fig


# --------------------------------------------------------------------------- labels without overlap
class _LabelPlacer(Artist):
    """Draw-time placement of point labels (annotations in offset points): no two labels overlap, and no label
    covers another labelled point's marker.

    It runs when the axes draw it, before the labels (lowest zorder), so the positions always fit the final
    layout, whatever is added to the figure later and at whatever dpi it is saved. Each draw starts again from
    every label's own offset, so the result does not depend on earlier draws: deterministic.
    """

    def __init__(self, labels: list[Any], offset_pt: tuple[float, float], leaders: LineCollection,
                 marker_pt: float, pad_px: float = 2.0) -> None:
        super().__init__()
        self.labels, self.offset_pt, self.leaders, self.pad_px = labels, offset_pt, leaders, pad_px
        self.marker_pt = marker_pt
        self.set_zorder(-100)

    def draw(self, renderer: Any) -> None:
        if not self.labels:
            return
        ax, dx, dy = self.axes, *self.offset_pt
        box = ax.get_window_extent(renderer)
        right = []
        for t in self.labels:                        # start from the own offset; labels near the right edge: left
            t.xyann = (dx, dy)
            t.set_horizontalalignment("left")
            right.append(_text_extent(t, renderer).x1 <= box.x1)
            if not right[-1]:
                t.xyann = (-dx, dy)
                t.set_horizontalalignment("right")
        ext = np.array([_text_extent(t, renderer).extents for t in self.labels])   # (n, 4): x0, y0, x1, y1
        points = ax.transData.transform([t.xy for t in self.labels])               # (n, 2) display pixels
        r = renderer.points_to_pixels(self.marker_pt) / 2
        markers = np.concatenate([points - r, points + r], axis=1)                  # (n, 4), label i's is row i
        y0 = repel_intervals(ext[:, 0], ext[:, 2], ext[:, 1], ext[:, 3], self.pad_px, obstacles=markers,
                             own=np.arange(len(ext)))
        shift_px = y0 - ext[:, 1]
        px_per_pt = renderer.points_to_pixels(1.0)
        segments = []
        for t, e, s, on_right, (px, py) in zip(self.labels, ext, shift_px, right, points):
            t.xyann = (t.xyann[0], dy + s / px_per_pt)
            if abs(s) > 3 * px_per_pt:               # moved away from its point: a leader line to the label
                edge = e[0] if on_right else e[2]
                segments.append([(px, py), (edge, float(np.clip(py, e[1] + s, e[3] + s)))])
        self.leaders.set_segments(segments)


def _text_extent(t: Any, renderer: Any) -> Any:
    """The text's own box in display pixels (an annotation's ``get_window_extent`` adds its arrow)."""
    t.update_positions(renderer)                 # the offset transform follows the point's current position
    return Text.get_window_extent(t, renderer)


def repel_intervals(x0: Any, x1: Any, y0: Any, y1: Any, pad: float = 2.0, iterations: int = 200,
                    obstacles: Any = None, own: Any = None) -> np.ndarray:
    """New bottoms ``(n,)`` for boxes ``[x0, x1] x [y0, y1]`` (display pixels) so that no two intersect, nor a box
    and an obstacle.

    Args:
        obstacles: ``(m, 4)`` fixed boxes ``x0, y0, x1, y1`` (markers) the boxes must not cover.
        own: ``(n,)`` index of each box's own obstacle (its point's marker, which it may touch), or -1.
    Boxes move only vertically. First every overlapping pair (of boxes sharing an x range) is pushed apart
    symmetrically, the lower one down and the upper one up, by half its overlap plus ``pad``, and a box on an
    obstacle moves off it the shorter way (at most ``iterations`` sweeps), which keeps each label near its point;
    then one upward sweep in order of height moves any box still touching an already placed box or an obstacle to
    just above it, which guarantees the result. Deterministic: ties are broken by index.
    """
    x0, x1, y0, y1 = (np.asarray(v, dtype=float) for v in (x0, x1, y0, y1))
    h, bottom = y1 - y0, y0.copy()
    n = len(bottom)
    ob = np.zeros((0, 4)) if obstacles is None else np.asarray(obstacles, dtype=float).reshape(-1, 4)
    own = np.full(n, -1) if own is None else np.asarray(own)
    wide = (x0[:, None] < x1[None, :] + pad) & (x0[None, :] < x1[:, None] + pad)   # (n, n): share an x range
    np.fill_diagonal(wide, False)
    hits = (x0[:, None] < ob[None, :, 2]) & (ob[None, :, 0] < x1[:, None])         # (n, m): under an obstacle
    hits &= np.arange(len(ob))[None, :] != own[:, None]

    for _ in range(iterations):
        top = bottom + h
        ov = np.minimum(top[:, None], top[None, :]) - np.maximum(bottom[:, None], bottom[None, :]) + pad
        ov = np.where(wide, ov, 0.0)                                              # (n, n) overlap, <= 0: none
        ov_ob = np.where(hits, np.minimum(top[:, None], ob[None, :, 3]) - np.maximum(bottom[:, None], ob[None, :, 1])
                         + pad, 0.0)                                             # (n, m)
        if not (ov > 0).any() and not (ov_ob > 0).any():
            break
        centre = bottom + h / 2
        lower = (centre[:, None] < centre[None, :]) | ((centre[:, None] == centre[None, :])
                                                      & (np.arange(n)[:, None] < np.arange(n)[None, :]))
        push = np.where(ov > 0, ov / 2, 0.0)
        # i moves down by its overlaps with boxes above it and up by those with boxes below it (largest of each)
        down = np.where(lower, push, 0.0).max(1, initial=0.0)
        up = np.where(lower.T, push, 0.0).max(1, initial=0.0)
        if len(ob):                         # off an obstacle: up when the box's centre is above the obstacle's
            # the distance to clear the obstacle going up, or going down
            above = centre[:, None] >= (ob[None, :, 1] + ob[None, :, 3]) / 2
            clear_up = np.where(above, ob[None, :, 3] + pad - bottom[:, None], 0.0)
            clear_down = np.where(~above, top[:, None] - ob[None, :, 1] + pad, 0.0)
            on = ov_ob > 0
            up = np.maximum(up, np.where(on, clear_up, 0.0).max(1))
            down = np.maximum(down, np.where(on, clear_down, 0.0).max(1))
        bottom += up - down
    placed: list[int] = []
    for i in np.lexsort((np.arange(n), bottom)):   # upward sweep: lowest first
        moved = True
        while moved:
            moved = False
            for j in placed:
                if wide[i, j] and bottom[i] < bottom[j] + h[j] + pad and bottom[j] < bottom[i] + h[i] + pad:
                    bottom[i], moved = bottom[j] + h[j] + pad, True
            for k in np.flatnonzero(hits[i]):
                if bottom[i] < ob[k, 3] + pad and ob[k, 1] < bottom[i] + h[i] + pad:
                    bottom[i], moved = ob[k, 3] + pad, True
        placed.append(int(i))
    return bottom


def label_points(ax: Axes, xy: Sequence[tuple[float, float]], texts: Sequence[str], fontsize: float = 8,
                 color: Any = None, offset_pt: tuple[float, float] = (4.0, 2.0), marker_pt: float = 7.0) -> list[Any]:
    """Label data points without overlap: one annotation per point, placed at draw time (see
    :func:`repel_intervals`), moved only vertically, with a thin leader line when a label left its point; a label
    that would cross the right edge of the axes goes to the left of its point. No label covers another point's
    marker (``marker_pt``: the markers' diameter in points). Returns the annotations (also in ``ax.texts``). Call
    once per axes: all labels of one call repel each other.
    """
    labels = [ax.annotate(t, xy=(float(x), float(y)), xytext=offset_pt, textcoords="offset points",
                          fontsize=fontsize, color=color, va="bottom", ha="left", annotation_clip=False)
              for (x, y), t in zip(xy, texts)]
    leaders = LineCollection([], colors="0.55", linewidths=0.6, zorder=1.5, transform=IdentityTransform())
    ax.add_collection(leaders, autolim=False)
    ax.add_artist(_LabelPlacer(labels, offset_pt, leaders, marker_pt))
    return labels


def plot_accuracy_vs_size(rows: Sequence[Mapping[str, Any]], papers: Sequence[Mapping[str, Any]] | None = None,
                          ax: Axes | None = None, baseline: float | None = None, label_key: str = "model",
                          papers_name: str = "paper: Human3.6M, GT 2D", title: str | None = None) -> Axes:
    """Error against model size: each run a circle (one colour per ``data``), each paper result a grey square.

    Args:
        rows: runs with ``parameters``, ``mpjpe`` (mm), the label under ``label_key`` (default ``model``) and
            optionally ``data`` (one colour and legend entry per data set). Rows without both numbers are skipped.
        papers: published results ``{"label", "parameters", "mpjpe"}`` (``label`` may carry a mark, e.g. ``*``).
        baseline: an error in mm drawn as a dashed line (the mean training pose).
    Parameters on a log axis labelled in millions; the error axis is logarithmic when the errors span more than a
    factor of 2.5 (papers next to short runs), else linear. Labels never overlap (:func:`label_points`). Returns the
    Axes; ``ax.collections[0]`` holds the first group of runs, the labels are ``ax.texts``.
    """
    runs = [r for r in rows if r.get("parameters") and r.get("mpjpe") is not None]
    papers = [p for p in (papers or []) if p.get("parameters") and p.get("mpjpe") is not None]
    if not runs and not papers:
        raise ValueError("plot_accuracy_vs_size needs at least one row or paper with parameters and mpjpe")
    ax = ax if ax is not None else plt.subplots(figsize=(7, 4.6), layout="constrained")[1]
    groups = list(dict.fromkeys(r.get("data") for r in runs))
    for g in groups:
        group = [r for r in runs if r.get("data") == g]
        ax.scatter([r["parameters"] for r in group], [r["mpjpe"] for r in group], s=40, zorder=2,
                   label=f"run: {g}" if g is not None else "run")
    if papers:
        ax.scatter([p["parameters"] for p in papers], [p["mpjpe"] for p in papers], marker="s", color="0.3", s=30,
                   zorder=2, label=papers_name)
    if baseline is not None:
        ax.axhline(float(baseline), color="k", ls="--", lw=1, label="mean training pose")
    label_points(ax, [(r["parameters"], r["mpjpe"]) for r in runs] + [(p["parameters"], p["mpjpe"]) for p in papers],
                 [str(r.get(label_key, "?")) for r in runs] + [str(p.get("label", "?")) for p in papers])
    ys = [r["mpjpe"] for r in runs] + [p["mpjpe"] for p in papers] + ([float(baseline)] if baseline else [])
    ax.set_xscale("log")
    ax.xaxis.set_major_locator(plt.LogLocator(subs=(1.0, 3.0)))
    ax.xaxis.set_major_formatter(lambda v, _: f"{v / 1e6:g}M")
    ax.xaxis.set_minor_formatter(plt.NullFormatter())
    if max(ys) / max(min(ys), 1e-9) > 2.5:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
        ax.yaxis.set_minor_formatter(lambda v, _: f"{v:g}" if f"{v:g}"[0] in "1235" else "")
    ax.margins(x=0.12, y=0.12)
    ax.set_xlabel("parameters")
    ax.set_ylabel("MPJPE (mm)")
    if title:
        ax.set_title(title)
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, frameon=False)
    ax.grid(alpha=0.3, which="major")
    return ax


def plot_results_bar(table: Sequence[Mapping[str, Any]], metrics: Sequence[str] = ("mpjpe", "p_mpjpe"),
                     ax: Axes | None = None, title: str | None = None) -> Axes:
    """Grouped horizontal bars: one group per result row (``model (data)``), one bar per metric in mm.

    Args:
        table: rows as written by :func:`poselift_core.reproduce.collect_results` (keys ``model``, ``data``,
            ``mpjpe``, ``p_mpjpe``, ...). Metrics missing from every row are skipped; a missing value is no bar.
    ``ax.containers[m]`` holds the bars of ``metrics[m]`` in row order.
    """
    rows = list(table)
    metrics = [m for m in metrics if any(r.get(m) is not None for r in rows)]
    if not rows or not metrics:
        raise ValueError("plot_results_bar needs at least one row with one of the metrics")
    if ax is None:
        size = (6.5, 0.5 + 0.45 * len(rows) * len(metrics))
        ax = plt.subplots(figsize=size, layout="constrained")[1]
    y = np.arange(len(rows))
    h = 0.8 / len(metrics)
    for m_idx, m in enumerate(metrics):
        vals = np.array([np.nan if r.get(m) is None else float(r[m]) for r in rows])
        bars = ax.barh(y + (m_idx - (len(metrics) - 1) / 2) * h, vals, height=h, label=m.replace("_", "-").upper())
        ax.bar_label(bars, fmt="%.1f", fontsize=7, padding=2)
    ax.set_yticks(y, [f"{r.get('model', '?')} ({r.get('data', '?')})" for r in rows], fontsize=8)
    lo, hi = ax.get_xlim()
    ax.set_xlim(lo, hi + 0.08 * (hi - lo))          # room for the value printed after the longest bar
    ax.invert_yaxis()
    ax.set_xlabel("error (mm), lower is better")
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_depth_ambiguity(pose: Any, camera: Any, skeleton: Skeleton | str = "h36m17",
                         scales: Sequence[float] = tuple(np.round(np.arange(0.6, 1.61, 0.1), 1)),
                         ray_joints: Sequence[str] = ("Head", "RFoot", "LFoot"), margin_px: float = 60.0) -> Any:
    """Plotly figure with a slider: the pose ``s * pose`` seen from the side and in the image, for every ``s``.

    ``pose``: ``(J, 3)`` camera-space joints in metres (:attr:`~poselift_core.data.PoseSequence.camera_abs` of one
    frame); ``camera``: its :class:`~poselift_core.camera.Camera`. Scaling a camera-space pose about the camera
    centre moves every joint along its own ray, so the image stays the same while the body grows and moves away:
    the depth ambiguity of chapter 1 ("Why lifting is ill-posed"). The left panel shows depth Z against height -Y
    (camera y points down), with the rays through ``ray_joints``; the right panel the projection
    (:func:`poselift_core.camera.project_to_image`, lens distortion included) zoomed on the person. Each slider
    step restyles the 8 moving traces and the title, so the figure works in a static page without a kernel.
    """
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from .camera import project_to_image

    sk = get_skeleton(skeleton)
    P0, scales = _np(pose).astype(np.float64), np.asarray(scales, dtype=np.float64)
    edges = np.array(sk.edges)                                # (bones, 2): child, parent
    sides = np.array(bone_sides(sk))                          # side of each bone in `edges` order
    uv0 = project_to_image(P0, camera)                        # (J, 2) the image every scale shares

    def polylines(P2: np.ndarray) -> list[np.ndarray]:
        """(J, 2) points -> left, right and centre bones as NaN-separated polylines, then the joints."""
        out = []
        for side in ("left", "right", "centre"):
            seg = np.full((int((sides == side).sum()), 3, 2), np.nan)   # child, parent, gap
            seg[:, 0], seg[:, 1] = P2[edges[sides == side, 0]], P2[edges[sides == side, 1]]
            out.append(seg.reshape(-1, 2))
        return out + [P2]

    def views(s: float) -> list[np.ndarray]:
        """The 8 moving point sets for scale s: side view (depth, height; m), then image (px)."""
        P = s * P0
        return polylines(P[:, [2, 1]] * [1, -1]) + polylines(project_to_image(P, camera))

    def caption(s: float) -> str:
        P = s * P0
        moved = np.abs(project_to_image(P, camera) - uv0).max()
        tall = s * np.ptp(P0[:, 1])                           # head to feet, metres
        return f"s = {s:.1f}: pelvis {P[0, 2]:.1f} m away, {tall:.2f} m tall; image moved {moved:.3f} px"

    start = int(np.argmin(np.abs(scales - 1.0)))
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.1,
                        subplot_titles=("seen from the side (m)", "in the image (px)"))
    for k, xy in enumerate(views(scales[start])):
        col, part = 1 + k // 4, k % 4                         # 4 traces per view: left, right, centre bones, joints
        style = (dict(mode="markers", marker=dict(color="black", size=4)) if part == 3 else
                 dict(mode="lines", line=dict(color=SIDE_COLORS[("left", "right", "centre")[part]], width=3)))
        fig.add_trace(go.Scatter(x=xy[:, 0], y=xy[:, 1], showlegend=False, hoverinfo="skip", **style),
                      row=1, col=col)
    reach = 1.1 * scales[-1] * P0[:, 2].max()
    ends = np.stack([reach / P0[j, 2] * P0[j, [2, 1]] * [1, -1] for j in map(sk.index, ray_joints)])  # (R, 2)
    for end in ends:                                          # the rays through the chosen joints (they do not move)
        fig.add_trace(go.Scatter(x=[0, end[0]], y=[0, end[1]], mode="lines", showlegend=False, hoverinfo="skip",
                                 line=dict(color="grey", dash="dot", width=1)), row=1, col=1)
    fig.add_trace(go.Scatter(x=[0], y=[0], mode="markers", marker=dict(symbol="square", size=10, color="black"),
                             name="camera", showlegend=False), row=1, col=1)
    steps = [dict(method="update", label=f"{s:.1f}",
                  args=[{"x": [xy[:, 0] for xy in views(s)], "y": [xy[:, 1] for xy in views(s)]},
                        {"title.text": caption(s)}, list(range(8))]) for s in scales]
    fig.update_layout(height=440, title=dict(text=caption(scales[start]), font=dict(size=13)),
                      margin=dict(l=50, r=20, t=80, b=40),
                      sliders=[dict(active=start, currentvalue=dict(prefix="scale s = "), pad=dict(t=50),
                                    steps=steps)])
    fig.update_xaxes(range=[-0.3, reach], title_text="depth Z (m)", row=1, col=1)
    fig.update_yaxes(range=[ends[:, 1].min() - 0.3, ends[:, 1].max() + 0.3], scaleanchor="x",
                     title_text="height -Y (m)", row=1, col=1)   # fixed ranges: only the pose moves
    lo, hi = uv0.min(0) - margin_px, uv0.max(0) + margin_px  # zoom on the person
    fig.update_xaxes(range=[lo[0], hi[0]], row=1, col=2)
    fig.update_yaxes(range=[hi[1], lo[1]], scaleanchor="x2", row=1, col=2)
    return fig
