"""Build of fastcnn's compiled kernels.

- Cython drivers (fastcnn/_*.pyx) over the C core in csrc/.
- OpenMP is found by a compile-and-link probe (-fopenmp for gcc/clang, /openmp for MSVC);
  where the probe fails the build still succeeds and runs serially
  (fastcnn.show_config() then says OpenMP is off).
- -O3 and no -march=native by default, so a built package runs on any x86-64; the AVX2 and
  AVX-512 micro-kernels are compiled in translation units of their own, with their own flags,
  and chosen at import by runtime CPU detection. FASTCNN_NATIVE=1 adds -march=native to
  everything else (only for a package that stays on the machine that built it);
  FASTCNN_NO_OPENMP=1 builds the serial fallback on purpose.
- FASTCNN_SANITIZE=1 builds for AddressSanitizer and UndefinedBehaviorSanitizer (-O1 -g, no
  -O3) to run the tests under them: tools/sanitize does the build and the run.
"""
import os
import platform
import shutil
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

try:  # setuptools >= 70 vendors distutils under setuptools._distutils
    from setuptools.errors import CCompilerError, CompileError, LinkError
except ImportError:  # pragma: no cover
    from distutils.errors import CCompilerError, CompileError, LinkError

OPENMP_PROBE = r"""
#include <omp.h>
#include <stdio.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    printf("%d %d\n", n, omp_get_max_threads());
    return 0;
}
"""

# Per-ISA translation units, micro-kernels (csrc/fastcnn_kernels.h) and pooling kernels
# (csrc/pool.h): (source, macro, gcc/clang flags, MSVC flags).
AVX512_FLAGS = ["-mavx512f", "-mavx512vl", "-mavx512dq", "-mavx512bw", "-mavx2", "-mfma"]
ISA_UNITS = [
    ("csrc/ukernel_avx512.c", "FCNN_HAVE_AVX512", AVX512_FLAGS, ["/arch:AVX512"]),
    ("csrc/ukernel_avx2.c", "FCNN_HAVE_AVX2", ["-mavx2", "-mfma"], ["/arch:AVX2"]),
    ("csrc/pool_avx512.c", "FCNN_HAVE_AVX512", AVX512_FLAGS, ["/arch:AVX512"]),
    ("csrc/pool_avx2.c", "FCNN_HAVE_AVX2", ["-mavx2", "-mfma"], ["/arch:AVX2"]),
]

IS_X86 = platform.machine().lower() in ("x86_64", "amd64", "i386", "i686", "x86")


def _log(msg):
    print(f"fastcnn build: {msg}", file=sys.stderr)


class BuildExt(build_ext):
    def _probe_openmp(self):
        if os.environ.get("FASTCNN_NO_OPENMP") == "1":
            _log("FASTCNN_NO_OPENMP=1: building without OpenMP")
            return None
        msvc = self.compiler.compiler_type == "msvc"
        compile_flags = ["/openmp"] if msvc else ["-fopenmp"]
        link_flags = [] if msvc else ["-fopenmp"]
        tmp = tempfile.mkdtemp(prefix="fastcnn-omp-")
        try:
            src = os.path.join(tmp, "probe.c")
            with open(src, "w") as fh:
                fh.write(OPENMP_PROBE)
            objs = self.compiler.compile([src], output_dir=tmp, extra_postargs=compile_flags)
            self.compiler.link_executable(objs, "probe", output_dir=tmp,
                                          extra_postargs=link_flags)
        except (CCompilerError, CompileError, LinkError, OSError) as exc:
            _log(f"OpenMP probe failed ({exc.__class__.__name__}); building without OpenMP")
            return None
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        _log(f"OpenMP found ({' '.join(compile_flags)})")
        return compile_flags, link_flags

    def _compile_isa_units(self, base_flags, include_dirs):
        """Objects of the per-ISA kernels; a unit the compiler cannot build for its ISA
        is built empty (the kernel set then reports itself missing and is never chosen)."""
        msvc = self.compiler.compiler_type == "msvc"
        objects = []
        for src, macro, gnu_flags, msvc_flags in ISA_UNITS:
            isa_flags = msvc_flags if msvc else gnu_flags
            out_dir = os.path.join(self.build_temp, "isa")
            try:
                if not IS_X86:
                    raise CompileError("not an x86 target")
                objs = self.compiler.compile([src], output_dir=out_dir, macros=[(macro, "1")],
                                             include_dirs=include_dirs,
                                             extra_postargs=base_flags + isa_flags)
                _log(f"{src}: built with {' '.join(isa_flags)}")
            except (CCompilerError, CompileError) as exc:
                _log(f"{src}: not built for its ISA ({exc}); this kernel set is left out")
                objs = self.compiler.compile([src], output_dir=os.path.join(out_dir, "off"),
                                             include_dirs=include_dirs, extra_postargs=base_flags)
            objects.extend(objs)
        return objects

    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        # -fno-math-errno: sqrt may then compile to one vector instruction (nothing here
        # reads errno); without it each sqrt carries a branch that keeps loops scalar
        base = ["/O2"] if msvc else ["-O3", "-fno-strict-aliasing", "-fno-math-errno"]
        if not msvc and os.environ.get("FASTCNN_NATIVE") == "1":
            base.append("-march=native")
            _log("FASTCNN_NATIVE=1: compiling with -march=native")
        sanitize = []
        if not msvc and os.environ.get("FASTCNN_SANITIZE") == "1":
            sanitize = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer"]
            base = ["-O1", "-g", "-fno-strict-aliasing", "-fno-math-errno"] + sanitize
            _log("FASTCNN_SANITIZE=1: compiling with " + " ".join(base))
        omp = self._probe_openmp()
        isa_objects = self._compile_isa_units(base, ["csrc"])
        for ext in self.extensions:
            ext.extra_compile_args = base + (omp[0] if omp else [])
            ext.extra_link_args = (omp[1] if omp else []) + sanitize
            if ext.name == "fastcnn._kernels":
                ext.extra_objects = list(isa_objects)
            if ext.name in ("fastcnn._optim", "fastcnn._norm") and not msvc:
                # no FMA contraction: the updates round every operation as Keras does; the
                # batch normalization's backward pass finds the ReLU's mask again with the
                # forward pass's expression, which must round the same way in both loops
                ext.extra_compile_args.append("-ffp-contract=off")
        super().build_extensions()


# The C core (dispatch and the table of kernels, drivers, portable kernels; the per-ISA
# objects are added in build_extensions), linked once, into fastcnn._kernels, whose .pyx
# includes the convolution, GEMM and pooling drivers (fastcnn/_conv.pxi, _gemm.pxi, _pool.pxi).
CORE_SOURCES = ["csrc/dispatch.c", "csrc/registry.c", "csrc/conv.c", "csrc/gemm.c",
                "csrc/ukernel_generic.c", "csrc/pool_generic.c"]
CORE_DEPENDS = ["csrc/fastcnn_kernels.h", "csrc/registry.h", "csrc/conv_impl.h",
                "csrc/gemm_impl.h", "csrc/ukernel_common.h", "csrc/ukernel_x86_impl.h",
                "csrc/conv_small_impl.h", "csrc/pool.h", "csrc/pool_impl.h",
                "csrc/pool_window.h", "fastcnn/_conv.pxi", "fastcnn/_gemm.pxi",
                "fastcnn/_pool.pxi"]

extensions = [
    Extension("fastcnn._kernels", ["fastcnn/_kernels.pyx"] + CORE_SOURCES,
              include_dirs=["csrc"], depends=CORE_DEPENDS),
    Extension("fastcnn._elementwise", ["fastcnn/_elementwise.pyx"]),
    Extension("fastcnn._optim", ["fastcnn/_optim.pyx"]),
    Extension("fastcnn._norm", ["fastcnn/_norm.pyx"], include_dirs=["csrc"],
              depends=["csrc/norm_rows.h"]),
    Extension("fastcnn._augment", ["fastcnn/_augment.pyx"]),
]

setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
    cmdclass={"build_ext": BuildExt},
)
