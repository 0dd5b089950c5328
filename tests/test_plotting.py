"""Behaviour of the book's figures: what each trace, frame, segment, image and label holds."""
import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from poselift_core import plotting as P  # noqa: E402
from poselift_core.skeleton import H36M_16, H36M_17  # noqa: E402

# GridConv's handcrafted 5x5 grid, as in Kang et al., AAAI 2023 (a tuple is the mean of its joints).
SGT_TABLE = [
    ["Spine"] * 5,
    ["Hip", "Thorax", "Thorax", "Thorax", "Hip"],
    ["RHip", "RShoulder", ("Thorax", "Neck/Nose"), "LShoulder", "LHip"],
    ["RKnee", "RElbow", "Neck/Nose", "LElbow", "LKnee"],
    ["RFoot", "RWrist", "Head", "LWrist", "LFoot"],
]


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _segments(trace) -> np.ndarray:
    """(E, 3, 3) child / parent / gap rows of a NaN-separated bone trace."""
    return np.stack([np.asarray(trace.x, float), np.asarray(trace.y, float), np.asarray(trace.z, float)], -1
                    ).reshape(-1, 3, 3)


# --------------------------------------------------------------------------- 3D viewer
def test_skeleton_3d_sequence_has_one_frame_and_slider_step_per_pose():
    poses = np.random.default_rng(0).normal(size=(7, 17, 3))
    fig = P.plot_skeleton_3d(poses, H36M_17, fps=25)
    assert len(fig.data) == 4
    assert [f.name for f in fig.frames] == [str(i) for i in range(7)]
    steps = fig.layout.sliders[0].steps
    assert [list(s.args[0]) for s in steps] == [[str(i)] for i in range(7)]
    play = fig.layout.updatemenus[0].buttons[0]
    assert play.args[1]["frame"]["duration"] == pytest.approx(40.0)  # 1000 ms / 25 fps
    for i in (0, 6):  # the joints trace of each frame is that frame's pose (rounded to 0.1 mm)
        joints = fig.frames[i].data[3]
        np.testing.assert_allclose(np.stack([joints.x, joints.y, joints.z], -1), poses[i], atol=5e-5, rtol=0)
    bones = _segments(fig.frames[6].data[0])  # left bones of the last frame: child, parent, gap
    left = [(c, p) for c, p in H36M_17.edges if c in H36M_17.left]
    np.testing.assert_allclose(bones[:, 0], poses[6][[c for c, _ in left]], atol=5e-5, rtol=0)
    np.testing.assert_allclose(bones[:, 1], poses[6][[p for _, p in left]], atol=5e-5, rtol=0)
    assert np.isnan(bones[:, 2]).all()


def test_skeleton_3d_bones_are_the_skeleton_edges_grouped_by_side():
    pose = np.random.default_rng(1).normal(size=(17, 3))
    fig = P.plot_skeleton_3d(pose, H36M_17)
    assert not fig.frames and not fig.layout.sliders  # one pose: no animation
    seen = []
    for trace, side_joints in zip(fig.data[:3], (H36M_17.left, H36M_17.right, None)):
        seg = _segments(trace)
        assert np.isnan(seg[:, 2]).all()  # the gap row that breaks the line
        # recover (child, parent) from coordinates and compare with the skeleton's edges of that side
        idx = [tuple(int(np.argmin(np.linalg.norm(pose - p, axis=1))) for p in s[:2]) for s in seg]
        np.testing.assert_allclose(seg[:, 0], pose[[c for c, _ in idx]])
        np.testing.assert_allclose(seg[:, 1], pose[[p for _, p in idx]])
        if side_joints is not None:
            assert {c for c, _ in idx} == set(side_joints)
        seen += idx
    assert sorted(seen) == sorted(H36M_17.edges)


def test_skeleton_3d_camera_space_is_shown_with_minus_y_up_and_equal_axes():
    poses = torch.randn(3, 17, 3)  # a tensor works too
    fig = P.plot_skeleton_3d(poses, "h36m17", up="-y")
    joints = fig.frames[2].data[3]
    X, Y, Z = poses[2].numpy().T
    np.testing.assert_allclose(joints.x, X, atol=5e-5, rtol=0)
    np.testing.assert_allclose(joints.y, Z, atol=5e-5, rtol=0)   # depth along the display's y
    np.testing.assert_allclose(joints.z, -Y, atol=5e-5, rtol=0)  # image-down y becomes display-up z
    scene = fig.layout.scene
    ranges = np.array([scene.xaxis.range, scene.yaxis.range, scene.zaxis.range])
    assert np.ptp(ranges[:, 1] - ranges[:, 0]) == pytest.approx(0.0)  # a cube: equal aspect
    p = poses.numpy()
    shown = np.stack([p[..., 0], p[..., 2], -p[..., 1]], -1).reshape(-1, 3)
    assert (shown >= ranges[:, 0]).all() and (shown <= ranges[:, 1]).all()  # every frame fits


def test_skeleton_3d_rejects_wrong_shapes_and_up_axis():
    with pytest.raises(ValueError, match="poses must be"):
        P.plot_skeleton_3d(np.zeros((5, 16, 3)), H36M_17)
    with pytest.raises(ValueError, match="up must be"):
        P.plot_skeleton_3d(np.zeros((17, 3)), H36M_17, up="x")


# --------------------------------------------------------------------------- 2D
def test_skeleton_2d_segments_colours_and_image_frame():
    kp = np.random.default_rng(2).uniform(0, 1000, size=(17, 2))
    ax = P.plot_skeleton_2d(kp, H36M_17, image_size=(1000, 1002))
    bones = ax.collections[0]
    edges = np.array(H36M_17.edges)
    np.testing.assert_allclose(np.array(bones.get_segments()), kp[edges])
    colours = bones.get_colors()
    for k, (child, _) in enumerate(H36M_17.edges):
        side = "left" if child in H36M_17.left else "right" if child in H36M_17.right else "centre"
        np.testing.assert_allclose(colours[k][:3], to_rgb(P.SIDE_COLORS[side]))
    assert ax.get_xlim() == (0, 1000) and ax.get_ylim() == (1002, 0)  # y grows downwards


def test_camera_views_draw_each_view_in_its_own_frame():
    rng = np.random.default_rng(3)
    views = [rng.uniform(0, 900, size=(16, 2)) for _ in range(4)]
    res = [(1000, 1002), (1000, 1000), (1000, 1000), (1000, 1002)]
    fig = P.plot_camera_views(views, H36M_16, res)
    assert len(fig.axes) == 4
    for ax, kp, (w, h) in zip(fig.axes, views, res):
        np.testing.assert_allclose(np.array(ax.collections[0].get_segments()), kp[np.array(H36M_16.edges)])
        assert ax.get_ylim() == (h, 0) and ax.get_xlim() == (0, w)
    with pytest.raises(ValueError, match="resolutions"):
        P.plot_camera_views(views, H36M_16, res[:3])


# --------------------------------------------------------------------------- matrices
def test_adjacency_heatmap_holds_the_matrix_and_joint_names():
    A = H36M_17.adjacency("row")
    ax = P.plot_adjacency(A, H36M_17, title="A")
    np.testing.assert_allclose(ax.images[0].get_array(), A.numpy())
    assert [t.get_text() for t in ax.get_yticklabels()] == list(H36M_17.names)


def test_weight_sharing_masks_missing_edges_and_colours_by_block():
    J = H36M_17.num_joints
    ids = np.full((J, J), -1.0)
    np.fill_diagonal(ids, 0)
    for c, p in H36M_17.edges:
        ids[c, p], ids[p, c] = 1, 2
    ids[0, 16] = np.nan  # NaN counts as "no edge" too
    ax = P.plot_weight_sharing(ids, H36M_17)
    data = ax.images[0].get_array()
    np.testing.assert_array_equal(data.mask, ~(ids >= 0))
    np.testing.assert_array_equal(data.data[ids >= 0], ids[ids >= 0])
    rgba = ax.images[0].to_rgba(data)
    assert (rgba[0, 0] == rgba[5, 5]).all()                       # same block (self-loop): same colour
    c, p = H36M_17.edges[0]
    assert len({tuple(rgba[0, 0]), tuple(rgba[c, p]), tuple(rgba[p, c])}) == 3  # three blocks, three colours


# --------------------------------------------------------------------------- semantic grid
def _cell_names(text: str) -> set[str]:
    return set(text.removeprefix("mean(").removesuffix(")").split(",\n"))


def test_sgt_writes_every_joint_in_the_cell_the_table_says():
    fig = P.plot_sgt(SGT_TABLE, H36M_17)
    texts = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in fig.axes[1].texts}
    assert len(texts) == 25
    for r, row in enumerate(SGT_TABLE):
        for c, cell in enumerate(row):
            assert _cell_names(texts[r, c]) == ({cell} if isinstance(cell, str) else set(cell)), (r, c)


def test_sgt_matrix_form_and_chain_colours_agree_with_the_skeleton_panel():
    # the same grid as a (25, 17) weight matrix
    W = np.zeros((25, 17))
    for k, cell in enumerate(c for row in SGT_TABLE for c in row):
        names = (cell,) if isinstance(cell, str) else cell
        W[k, [H36M_17.index(n) for n in names]] = 1 / len(names)
    fig = P.plot_sgt(W, H36M_17)
    by_pos = {(round(t.get_position()[1]), round(t.get_position()[0])): t.get_text() for t in fig.axes[1].texts}
    assert by_pos[2, 2] == "mean(Thorax,\nNeck/Nose)" and by_pos[3, 0] == "RKnee"
    joint_rgb = fig.axes[0].collections[1].get_facecolors()[:, :3]  # scatter of the joints, skeleton panel
    grid_rgb = fig.axes[1].images[0].get_array()
    for r, c, name in [(3, 0, "RKnee"), (4, 4, "LFoot"), (4, 1, "RWrist"), (0, 2, "Spine")]:
        np.testing.assert_allclose(grid_rgb[r, c], 0.45 * joint_rgb[H36M_17.index(name)] + 0.55)
    # one kinematic chain, one colour; different chains differ
    assert (joint_rgb[H36M_17.index("RKnee")] == joint_rgb[H36M_17.index("RFoot")]).all()
    assert not (joint_rgb[H36M_17.index("RKnee")] == joint_rgb[H36M_17.index("LKnee")]).all()
    with pytest.raises(ValueError, match="grid assignment"):
        P.plot_sgt(W[:24], H36M_17)


def test_chain_heads_follow_single_child_runs():
    # parents (chapter 2, "Skeletons"): legs, spine (Spine, Thorax), head (Neck/Nose, Head), arms start at branch points
    assert P.chain_heads(H36M_17) == [0, 1, 1, 1, 4, 4, 4, 7, 7, 9, 9, 11, 11, 11, 14, 14, 14]
    assert P.bone_sides(H36M_17)[:3] == ["right"] * 3 and P.bone_sides(H36M_17)[3:6] == ["left"] * 3


# --------------------------------------------------------------------------- curves and results
def test_training_curves_plot_each_series_in_its_panel():
    history = [{"epoch": e, "train_loss": 1 / e, "val_mpjpe": 100 / e, "lr": 1e-3 * 0.9 ** e} for e in (1, 2, 3)]
    fig = P.plot_training_curves(history)
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "error (mm)", "learning rate"]
    line = fig.axes[1].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [1, 2, 3])
    np.testing.assert_allclose(line.get_ydata(), [100, 50, 100 / 3])
    assert fig.axes[2].get_yscale() == "log"
    with pytest.raises(ValueError, match="no loss"):
        P.plot_training_curves({"epoch": [1], "foo": [2]})


def test_training_curves_draw_the_in_epoch_log_under_the_epoch_points():
    # the shape of Trainer's results: one history row per epoch, step_history rows logged inside the epochs
    history = [{"epoch": 1, "step": 4, "loss": 0.5, "lr": 1e-3, "mpjpe": None, "p_mpjpe": None, "time_s": 1.0},
               {"epoch": 2, "step": 8, "loss": 0.3, "lr": 1e-3, "mpjpe": 80.0, "p_mpjpe": 60.0, "time_s": 2.0}]
    steps = [{"step": s, "epoch": s / 4, "loss": 1 / s, "lr": 1e-3} for s in (2, 4, 6, 8)]
    steps += [{"step": s, "epoch": s / 4, "mpjpe": 100 - s, "p_mpjpe": 90 - s, "frames": 50} for s in (3, 6)]
    fig = P.plot_training_curves({"history": history, "step_history": steps, "mpjpe": 80.0})
    loss_ax, err_ax, lr_ax = fig.axes
    assert [ax.get_ylabel() for ax in fig.axes] == ["loss", "error (mm)", "learning rate"]
    logged, per_epoch = loss_ax.lines
    np.testing.assert_allclose(logged.get_xdata(), [0.5, 1, 1.5, 2])
    np.testing.assert_allclose(logged.get_ydata(), [1 / 2, 1 / 4, 1 / 6, 1 / 8])
    assert "every 2 steps" in logged.get_label() and per_epoch.get_linestyle() == "None"
    np.testing.assert_allclose(per_epoch.get_ydata(), [0.5, 0.3])
    np.testing.assert_allclose(per_epoch.get_xdata(), [0.5, 1.5])             # each epoch's mean at its middle
    mp = next(line for line in err_ax.lines if line.get_label().startswith("mpjpe (every"))
    np.testing.assert_allclose(mp.get_xdata(), [0.75, 1.5])
    assert "every 3 steps, 50 frames" in mp.get_label()
    end = next(line for line in err_ax.lines if line.get_label() == "mpjpe (end of epoch)")
    np.testing.assert_allclose(end.get_xdata(), [2]) and np.testing.assert_allclose(end.get_ydata(), [80])
    assert len(lr_ax.lines) == 1                   # the learning rate once, from the log
    with pytest.raises(ValueError, match="fractional 'epoch'"):
        P.plot_training_curves(history, steps=[{"loss": 1.0}])


def _boxes(ax):
    ax.figure.canvas.draw()
    return [t.get_window_extent() for t in ax.texts]


def _overlapping_pairs(boxes):
    return [(i, j) for i in range(len(boxes)) for j in range(i + 1, len(boxes)) if boxes[i].overlaps(boxes[j])]


def test_accuracy_vs_size_labels_never_overlap():
    # nine crowded runs (three of them on the same point) and papers far below: the chapters' situation
    rng = np.random.default_rng(0)
    rows = [{"model": f"variant_{i}", "parameters": float(p), "mpjpe": float(e), "data": "open"}
            for i, (p, e) in enumerate(zip(rng.uniform(2e5, 4e5, 9), rng.uniform(90, 95, 9)))]
    rows[1].update(parameters=rows[0]["parameters"], mpjpe=rows[0]["mpjpe"])
    rows[2].update(parameters=rows[0]["parameters"], mpjpe=rows[0]["mpjpe"])
    papers = [{"label": "paper_a", "parameters": 3e5, "mpjpe": 37.4}, {"label": "paper_b*", "parameters": 3.1e5,
                                                                       "mpjpe": 37.8}]
    ax = P.plot_accuracy_vs_size(rows, papers, baseline=120.0)
    assert [t.get_text() for t in ax.texts] == [r["model"] for r in rows] + ["paper_a", "paper_b*"]
    assert _overlapping_pairs(_boxes(ax)) == []
    # the three labels of one point cannot all stay at their own offset: some moved, each with a leader line
    leaders = [c for c in ax.collections if hasattr(c, "get_segments") and c.get_segments()]
    assert len(leaders) == 1 and len(leaders[0].get_segments()) >= 2
    # no label covers another point (its marker's centre)
    px = ax.transData.transform([t.xy for t in ax.texts])
    for i, t in enumerate(ax.texts):
        box = t.get_window_extent()
        covered = [j for j, (x, y) in enumerate(px) if j != i and box.x0 <= x <= box.x1 and box.y0 <= y <= box.y1
                   and not np.allclose(px[j], px[i])]
        assert covered == [], (t.get_text(), covered)
    # every label stays near its point (a few label heights at most)
    for t, (x, y) in zip(ax.texts, px):
        box = t.get_window_extent()
        assert min(abs(box.y0 - y), abs(box.y1 - y), 0 if box.y0 <= y <= box.y1 else np.inf) < 6 * box.height
    # placed again at draw time: a resized figure (another layout) and a second draw still have no overlap
    ax.figure.set_size_inches(4.5, 3.5)
    assert _overlapping_pairs(_boxes(ax)) == []
    # the points are the table's numbers; papers are a second scatter; the errors span > 2.5x: log scale
    np.testing.assert_allclose(ax.collections[0].get_offsets(), [(r["parameters"], r["mpjpe"]) for r in rows])
    np.testing.assert_allclose(ax.collections[1].get_offsets(), [(3e5, 37.4), (3.1e5, 37.8)])
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    assert ax.lines[0].get_ydata()[0] == 120.0                  # the baseline


def test_accuracy_vs_size_without_crowding_leaves_labels_at_their_points():
    rows = [{"model": "small", "parameters": 1e5, "mpjpe": 50.0}, {"model": "large", "parameters": 5e6, "mpjpe": 45.0}]
    ax = P.plot_accuracy_vs_size(rows, label_key="model")
    boxes = _boxes(ax)
    assert ax.get_yscale() == "linear"
    px = ax.transData.transform([(1e5, 50.0), (5e6, 45.0)])
    for box, (x, y) in zip(boxes, px):                          # just above its point, no leader
        assert 0 <= box.y0 - y <= 4 and abs(min(abs(box.x0 - x), abs(box.x1 - x))) <= 6
    assert not any(c.get_segments() for c in ax.collections if hasattr(c, "get_segments"))
    with pytest.raises(ValueError, match="at least one row"):
        P.plot_accuracy_vs_size([{"model": "x", "parameters": None, "mpjpe": 3.0}])


def test_repel_intervals_separates_boxes_and_keeps_separate_ones():
    rng = np.random.default_rng(1)
    x0 = rng.uniform(0, 50, 30)
    y0 = rng.uniform(0, 40, 30)
    x1, y1 = x0 + rng.uniform(20, 60, 30), y0 + 10
    bottom = P.repel_intervals(x0, x1, y0, y1, pad=1.0)
    for i in range(30):
        for j in range(i + 1, 30):
            share_x = x0[i] < x1[j] + 1 and x0[j] < x1[i] + 1
            apart = bottom[i] + 10 + 1 <= bottom[j] + 1e-9 or bottom[j] + 10 + 1 <= bottom[i] + 1e-9
            assert not share_x or apart, (i, j)
    far = P.repel_intervals([0, 0, 100], [10, 10, 110], [0, 50, 0], [10, 60, 10])   # already apart: unchanged
    np.testing.assert_array_equal(far, [0, 50, 0])
    # a fixed obstacle (another point's marker) is cleared; the box's own marker is not an obstacle
    markers = [[2, 4, 8, 9], [0, -3, 4, 1]]
    moved = P.repel_intervals([0], [20], [0], [6], pad=1.0, obstacles=markers, own=[1])
    assert moved[0] >= 9 + 1 or moved[0] + 6 + 1 <= 4
    np.testing.assert_array_equal(P.repel_intervals([0], [20], [0], [6], obstacles=markers[1:], own=[0]), [0])


def test_results_bar_lengths_are_the_table_values():
    table = [{"model": "gcn", "data": "h36m", "mpjpe": 51.3, "p_mpjpe": 40.1},
             {"model": "gridconv", "data": "h36m", "mpjpe": 47.6, "p_mpjpe": None}]
    ax = P.plot_results_bar(table)
    np.testing.assert_allclose([b.get_width() for b in ax.containers[0]], [51.3, 47.6])
    widths = [b.get_width() for b in ax.containers[1]]
    assert widths[0] == pytest.approx(40.1) and np.isnan(widths[1])
    assert [t.get_text() for t in ax.get_yticklabels()] == ["gcn (h36m)", "gridconv (h36m)"]


# --------------------------------------------------------------------------- notebook renderer
def test_setup_notebook_plotting_is_a_noop_outside_the_book_build(monkeypatch):
    import plotly.io as pio

    monkeypatch.delenv(P.BOOK_BUILD_ENV, raising=False)
    before = pio.renderers.default
    assert P.setup_notebook_plotting() is None
    assert pio.renderers.default == before


def test_book_renderer_emits_a_small_html_div_without_cdn_scripts(monkeypatch):
    import plotly.io as pio

    before = pio.renderers.default
    monkeypatch.setenv(P.BOOK_BUILD_ENV, "1")
    try:
        name = P.setup_notebook_plotting()
        assert pio.renderers.default == name
        fig = P.plot_skeleton_3d(np.zeros((2, 17, 3)), H36M_17)
        bundle = pio.renderers[name].to_mimebundle(fig.to_dict())
    finally:
        pio.renderers.default = before
    assert list(bundle) == ["text/html"]
    html = bundle["text/html"]
    assert 'class="plotly-graph-div"' in html and "Plotly.newPlot" in html
    assert "<script src=" not in html and "cdn" not in html.lower()  # no MathJax/plotly.js from a CDN
    assert len(html) < 100_000  # plotly.js itself (~4.7 MB) is not embedded


def test_plot_depth_ambiguity_moves_the_body_along_its_rays_and_keeps_the_image():
    import numpy as np
    from poselift_core.camera import project_to_image
    from poselift_core.data import load_sample
    from poselift_core.plotting import plot_depth_ambiguity

    ds = load_sample()
    subject = ds.subjects()[0]
    seq = ds.sequence(subject, ds.actions(subject)[0], 0)
    cam, pose = ds.cameras(subject)[0], seq.camera_abs[0].astype(np.float64)        # (J, 3) metres
    scales = (0.5, 1.0, 2.0)
    fig = plot_depth_ambiguity(pose, cam, ds.skeleton, scales=scales)
    steps = fig.layout.sliders[0].steps
    assert len(steps) == len(scales) and fig.layout.sliders[0].active == 1
    for s, step in zip(scales, steps):
        xs, ys = step.args[0]["x"], step.args[0]["y"]
        side = np.stack([xs[3], ys[3]], -1)                       # side view joints: (Z, -Y) of s * pose
        np.testing.assert_allclose(side, s * pose[:, [2, 1]] * [1, -1], rtol=1e-12)
        image = np.stack([xs[7], ys[7]], -1)                      # image joints: the same pixels at every scale
        np.testing.assert_allclose(image, project_to_image(pose, cam), atol=1e-6)
        assert f"s = {s:.1f}" in step.args[1]["title.text"]
