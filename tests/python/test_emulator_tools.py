"""The CUDA emulator's build step that writes each kernel's entry hook
(emulator/tools/instrument_kernels.py). The emulator's C++ tests check that the hooks work at
run time; these check the rewriting itself, on the forms it must handle and the ones it must
refuse."""
import importlib.util
import pathlib

import pytest

_TOOL = pathlib.Path(__file__).resolve().parents[2] / "emulator" / "tools" / "instrument_kernels.py"
_spec = importlib.util.spec_from_file_location("instrument_kernels", _TOOL)
ik = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ik)


def test_every_kernel_gets_its_bounds_and_lines_stay_where_they_were():
    src = (
        "template <typename T>\n"
        "__global__ void __launch_bounds__(kBlock * 2,\n"
        "                                  3)\n"
        "    bounded(Args<T> a) {\n"
        "  body();\n"
        "}\n"
        "__global__ void plain(int* x, int n) { x[0] = n; }\n"
        "__global__ void declared(int* x);\n"
    )
    out, hooked = ik.instrument(src, "k.cu")
    assert hooked == 2
    assert out.count("\n") == src.count("\n")
    lines = out.splitlines()
    assert lines[3] == "    bounded(Args<T> a) { GPULEARN_EMU_KERNEL_ENTRY(kBlock * 2, 3);"
    assert lines[6] == ("__global__ void plain(int* x, int n) { GPULEARN_EMU_KERNEL_ENTRY(); "
                        "x[0] = n; }")
    assert lines[7] == "__global__ void declared(int* x);"


def test_comments_strings_and_longer_names_are_not_kernels():
    src = (
        "// __global__ void not_a_kernel(int x) {\n"
        "/* __global__ void nor_this() { */\n"
        'const char* s = "__global__ void f() {";\n'
        "#define my__global__x 1\n"
        "__global__ void k(int x /* ) { */) { }\n"
    )
    out, hooked = ik.instrument(src, "k.cu")
    assert hooked == 1
    assert out.splitlines()[4] == "__global__ void k(int x /* ) { */) { GPULEARN_EMU_KERNEL_ENTRY(); }"
    assert out.splitlines()[:4] == src.splitlines()[:4]


@pytest.mark.parametrize(
    "src",
    [
        "__global__ void k(int x) const_nonsense { }\n",  # neither '{' nor ';' after the list
        "__global__ int;\n",  # no parameter list
    ],
)
def test_a_kernel_it_cannot_follow_fails_the_build(src):
    with pytest.raises(ValueError, match="k.cu:1"):
        ik.instrument(src, "k.cu")


def test_the_command_writes_a_line_directive_naming_the_source(tmp_path, monkeypatch):
    source = tmp_path / "a.cu"
    source.write_text("__global__ void k() {}\n")
    output = tmp_path / "out" / "a.cu"
    monkeypatch.setattr("sys.argv", ["instrument_kernels.py", str(source), str(output)])
    assert ik.main() == 0
    assert output.read_text() == (f'#line 1 "{source}"\n'
                                  "__global__ void k() { GPULEARN_EMU_KERNEL_ENTRY();}\n")
