"""``import meteorfast`` costs only NumPy, and the CPU path works with TensorRT and pycuda made unimportable."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import textwrap


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tempfile.gettempdir(),  # not the checkout: the installed package is under test
    )


def test_import_is_light() -> None:
    out = python(
        """
        import sys
        import meteorfast, meteorfast.backends, meteorfast.cam
        heavy = [m for m in ("torch", "tensorrt", "pycuda", "onnxruntime", "cv2") if m in sys.modules]
        print(",".join(heavy))
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""


def test_cpu_path_works_without_tensorrt_and_pycuda() -> None:
    # None in sys.modules makes `import tensorrt` raise ImportError even where it is installed.
    out = python(
        """
        import sys
        for name in ("tensorrt", "pycuda", "pycuda.driver", "pycuda.autoinit"):
            sys.modules[name] = None
        import numpy as np
        import meteorfast.cam as mc
        from meteorfast.backends import available_backends
        from meteorfast.cli import info_dict
        b = available_backends()
        assert b["onnxruntime"].available, b
        assert not b["tensorrt"].available and "not installed" in b["tensorrt"].reason, b
        assert info_dict()["native"]["cpu"]
        rng = np.random.default_rng(0)
        f = rng.random((2, 8, 7, 7), dtype=np.float32)
        r = mc.postprocess(f, f, rng.random((2, 56, 56), dtype=np.float32), input_size=(224, 224))
        assert r.cam.shape == (2, 7, 7)
        print("ok")
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
