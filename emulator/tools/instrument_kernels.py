#!/usr/bin/env python3
"""Copies a CUDA source for the emulator, giving every kernel an entry hook.

    instrument_kernels.py SOURCE OUTPUT

On hardware a kernel's `__launch_bounds__(max_threads[, min_blocks[, max_cluster]])` is part of
the compiled kernel: the runtime refuses a launch of more threads per block than max_threads.
The host compiler has nowhere to keep it (an attribute in that position can be neither read
back from a function pointer nor evaluated later), so this build step writes the bound into the
kernel's body, where the emulator can evaluate it in the kernel's own scope, template arguments
included:

    __global__ void __launch_bounds__(kBlockThreads) assign_kernel(AssignArgs<T> a) {
becomes
    __global__ void __launch_bounds__(kBlockThreads) assign_kernel(AssignArgs<T> a) { GPULEARN_EMU_KERNEL_ENTRY(kBlockThreads);

and every other kernel gets `GPULEARN_EMU_KERNEL_ENTRY();`. Before it queues a grid, the
emulator calls the kernel once on the launching thread in "probe" mode: the hook reports the
bound and returns before the body runs (gpulearn_emu/launch.hpp). Nothing else changes: the
hook goes on the line of the opening brace, and a #line directive names the original file, so
diagnostics, __FILE__ and __LINE__ are those of the source.

A `__global__` this script cannot follow (no parameter list, a definition that does not open
with `{` after it) fails the build: an uninstrumented kernel would run its body in the probe.
"""
import pathlib
import sys


def blank_comments_and_literals(text: str) -> str:
    """The text with comments and the insides of string and character literals replaced by
    spaces (newlines kept), so that offsets still index the original."""
    out = list(text)
    i, n = 0, len(text)

    def blank(a: int, b: int) -> None:
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j)
            i = j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
            blank(i, j)
            i = j
        elif text[i] in "\"'":
            quote, j = text[i], i + 1
            while j < n and text[j] != quote and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            blank(i + 1, min(j, n))
            i = j + 1
        else:
            i += 1
    return "".join(out)


def closing_paren(code: str, open_at: int) -> int:
    depth = 0
    for k in range(open_at, len(code)):
        if code[k] == "(":
            depth += 1
        elif code[k] == ")":
            depth -= 1
            if depth == 0:
                return k
    raise ValueError("unbalanced parentheses")


def is_word_at(code: str, at: int, word: str) -> bool:
    end = at + len(word)
    if not code.startswith(word, at):
        return False
    before = code[at - 1] if at > 0 else " "
    after = code[end] if end < len(code) else " "
    return not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_")


def instrument(text: str, name: str) -> tuple[str, int]:
    """Returns the instrumented text and the number of kernel definitions hooked."""
    code = blank_comments_and_literals(text)
    inserts = []  # (offset just after the body's '{', hook)
    at = code.find("__global__")
    while at >= 0:
        if not is_word_at(code, at, "__global__"):
            at = code.find("__global__", at + 1)
            continue
        line = code.count("\n", 0, at) + 1
        where = f"{name}:{line}"
        bounds = ""
        k = at + len("__global__")
        while True:
            p = code.find("(", k)
            if p < 0 or any(c in code[k:p] for c in ";{}"):
                raise ValueError(f"{where}: a __global__ without a parameter list")
            q = closing_paren(code, p)
            head = code[k:p].rstrip()
            if head.endswith("__launch_bounds__") and is_word_at(
                    code, len(head) - len("__launch_bounds__") + k, "__launch_bounds__"):
                bounds = " ".join(code[p + 1:q].split())
                k = q + 1
                continue
            break
        r = q + 1
        while r < len(code) and code[r].isspace():
            r += 1
        if r < len(code) and code[r] == "{":
            inserts.append((r + 1, f" GPULEARN_EMU_KERNEL_ENTRY({bounds});"))
        elif r >= len(code) or code[r] != ";":
            raise ValueError(f"{where}: a kernel whose parameter list is followed by neither "
                             "'{' nor ';'")
        at = code.find("__global__", q)
    pieces, last = [], 0
    for offset, hook in inserts:
        pieces += [text[last:offset], hook]
        last = offset
    pieces.append(text[last:])
    return "".join(pieces), len(inserts)


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.splitlines()[2].strip(), file=sys.stderr)
        return 2
    source, output = pathlib.Path(sys.argv[1]).resolve(), pathlib.Path(sys.argv[2])
    text = source.read_text(encoding="utf-8")
    try:
        body, _ = instrument(text, str(source))
    except ValueError as e:
        print(f"instrument_kernels: {e}", file=sys.stderr)
        return 1
    escaped = str(source).replace("\\", "\\\\").replace('"', '\\"')
    result = f'#line 1 "{escaped}"\n{body}'
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(result, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
