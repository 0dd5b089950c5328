"""Building data files from motion capture: readers, kinematics, the conversion to Human3.6M-17 and the builders of
the bundled sample and the open benchmark.

- ``kinematics``: Euler rotations, forward kinematics, :class:`~poselift_core.conversion.kinematics.KinematicClip`.
- ``mocap_files``: Acclaim ASF/AMC (CMU) and BVH readers.
- ``mocap``: the Human3.6M-17 joint mapping, Y-up to Z-up, resampling,
  :func:`~poselift_core.conversion.mocap.convert_mocap`.
- ``build_sample``: the DeepMimic reader and the builder of ``data/sample/``.
- ``build_open``: the builder of the open benchmark ``data/open/data_3d_open.npz``.

This package writes what :mod:`poselift_core.data` reads; training, evaluation and lifting never import it (a test
checks), and the data command line imports it only in ``convert-mocap``, ``build-sample`` and ``build-open``.
Explained in the book, chapter 2 ("The open benchmark, and converting CMU motion capture").
"""
