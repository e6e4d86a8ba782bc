"""Which OpenBLAS kernels splade's tools run on in a benchmark.

OpenBLAS picks kernels for the processor as it loads (AVX2 "Haswell"/"Zen", AVX-512 "SkylakeX"/"Cooperlake",
...) unless OPENBLAS_CORETYPE names them; a machine may set that variable for all its programs. sgemm runs about
twice as fast on the AVX-512 kernels where the processor has them, so a figure means little without the name.
"""
import os, subprocess, sys


def add_argument(parser):
    parser.add_argument("--openblas-core", metavar="NAME",
                        help="OPENBLAS_CORETYPE for splade's tools (Haswell, SkylakeX, ...), or '' for OpenBLAS's own "
                             "choice for this processor (default: the environment as it is)")


def environment(core):
    """The environment for splade's tools and the sgemm probe under --openblas-core."""
    env = dict(os.environ)
    if core is not None:
        env.pop("OPENBLAS_CORETYPE", None)
        if core:
            env["OPENBLAS_CORETYPE"] = core
    return env


def name(env):
    """The kernels OpenBLAS loads under `env`, and where the choice came from."""
    probe = ("import ctypes; blas = ctypes.CDLL('libopenblas.so.0'); blas.openblas_get_corename.restype = ctypes.c_char_p; "
             "print(blas.openblas_get_corename().decode())")
    kernels = subprocess.run([sys.executable, "-c", probe], env=env, check=True, stdout=subprocess.PIPE, text=True).stdout.strip()
    source = f"OPENBLAS_CORETYPE={env['OPENBLAS_CORETYPE']}" if "OPENBLAS_CORETYPE" in env else "OpenBLAS's own choice"
    return f"{kernels} ({source})"
