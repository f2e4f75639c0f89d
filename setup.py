"""Builds the `_bigbird` extension with CMake for `pip install .` (metadata: pyproject.toml).

The extension is the CMake target `_bigbird` (python/CMakeLists.txt); this file only drives CMake
and copies the built module into the wheel. BIGBIRD_CMAKE_BUILD_DIR reuses a build directory
(default: build/pip, beside the `make build` one)."""
import os
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = os.path.dirname(os.path.abspath(__file__))


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = os.environ.get("BIGBIRD_CMAKE_BUILD_DIR", os.path.join(ROOT, "build", "pip"))
        subprocess.check_call(["cmake", "-S", ROOT, "-B", build_dir, "-DCMAKE_BUILD_TYPE=Release",
                               "-DBIGBIRD_TESTS=OFF", "-DBIGBIRD_BENCH=OFF", f"-DPython3_EXECUTABLE={sys.executable}"])
        subprocess.check_call(["cmake", "--build", build_dir, "--target", "_bigbird", "-j",
                               os.environ.get("BIGBIRD_JOBS", str(os.cpu_count() or 2))])
        built = os.path.join(build_dir, "python", "bigbird")
        module = next(f for f in os.listdir(built) if f.startswith("_bigbird") and f.endswith(".so"))
        target = self.get_ext_fullpath(ext.name)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        self.copy_file(os.path.join(built, module), target)


setup(ext_modules=[Extension("bigbird._bigbird", sources=[])], cmdclass={"build_ext": CMakeBuild})
