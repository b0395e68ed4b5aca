"""Bundles libcuflow.so into the package (cuflow/_lib/), so that
`pip install ./python` gives a self-contained cuflow.

Where the library comes from, first found:
  1. $CUFLOW_LIBRARY: a libcuflow.so already built;
  2. $CUFLOW_BUILD_DIR/libcuflow.so, else ../build/libcuflow.so (the
     README's first command builds there);
  3. a CMake build of the cuflow_shared target in the build tree's
     temporary folder (CPU backend and CUDA where nvcc is found, as the
     project's own configure decides; no tests, no benchmarks).
The wheel is tagged for this platform (it carries a native library).
"""
import glob
import os
import shutil
import subprocess

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)


def _built_library(build_temp):
    env = os.environ.get("CUFLOW_LIBRARY")
    if env:
        if not os.path.isfile(env):
            raise RuntimeError(f"CUFLOW_LIBRARY={env}: no such file")
        return env
    for d in (os.environ.get("CUFLOW_BUILD_DIR"), os.path.join(SOURCE, "build")):
        if d and os.path.isfile(os.path.join(d, "libcuflow.so")):
            return os.path.join(d, "libcuflow.so")
    if not os.path.isfile(os.path.join(SOURCE, "CMakeLists.txt")):
        raise RuntimeError("libcuflow.so not found: set CUFLOW_LIBRARY or CUFLOW_BUILD_DIR, "
                           "or install from the cuflow source tree")
    out = os.path.join(build_temp, "cuflow-cmake")
    gen = ["-G", "Ninja"] if shutil.which("ninja") else []
    subprocess.check_call(["cmake", "-S", SOURCE, "-B", out, *gen, "-DCMAKE_BUILD_TYPE=Release",
                           "-DCUFLOW_BUILD_TESTS=OFF", "-DCUFLOW_BUILD_BENCH=OFF"])
    subprocess.check_call(["cmake", "--build", out, "--target", "cuflow_shared", "-j", str(os.cpu_count() or 2)])
    return os.path.join(out, "libcuflow.so")


class BuildWithLibrary(build_py):
    def run(self):
        super().run()
        lib = os.path.realpath(_built_library(os.path.abspath(self.get_finalized_command("build").build_temp)))
        dest = os.path.join(self.build_lib, "cuflow", "_lib")
        os.makedirs(dest, exist_ok=True)
        for old in glob.glob(os.path.join(dest, "libcuflow.so*")):
            os.remove(old)
        # one file under the name ctypes loads (the build tree's is a chain of symlinks)
        shutil.copyfile(lib, os.path.join(dest, "libcuflow.so"))
        print(f"cuflow: bundled {lib}")


class NativeDistribution(Distribution):
    def has_ext_modules(self):  # a platform wheel, not py3-none-any
        return True


setup(cmdclass={"build_py": BuildWithLibrary}, distclass=NativeDistribution)
