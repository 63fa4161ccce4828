"""CI has no GPU, so a tensor made on the CPU beside CUDA inputs is caught here, statically.

Every torch factory call in ``ssdnet/`` must name its device (``device=``), use a ``_like`` form,
or carry a ``# device: <why>`` comment on one of its lines. One such call (``torch.eye`` in the
region map) stopped every GPU run (issue 27).
"""
from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "ssdnet"
FACTORIES = {"eye", "zeros", "ones", "full", "arange", "linspace", "logspace", "tensor", "empty",
             "rand", "randn", "randint", "randperm", "normal", "as_tensor", "scalar_tensor"}
EXCUSE = re.compile(r"#\s*device:\s*\S")


def offenders(source: str, filename: str = "<source>") -> list[str]:
    """``file:line torch.name(...)`` for each factory call that places its tensor by default."""
    excused = {tok.start[0] for tok in tokenize.generate_tokens(io.StringIO(source).readline)
               if tok.type == tokenize.COMMENT and EXCUSE.search(tok.string)}
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                and isinstance(node.func.value, ast.Name) and node.func.value.id == "torch"
                and node.func.attr in FACTORIES):
            continue
        if any(kw.arg == "device" for kw in node.keywords):
            continue
        if excused & set(range(node.lineno, (node.end_lineno or node.lineno) + 1)):
            continue
        found.append((node.lineno, f"{filename}:{node.lineno} torch.{node.func.attr}(...)"))
    return [text for _, text in sorted(found)]


def package_offenders(root: Path) -> list[str]:
    return [hit for path in sorted(root.rglob("*.py"))
            for hit in offenders(path.read_text(), str(path.relative_to(root.parent)))]


def test_every_factory_call_in_ssdnet_names_its_device():
    assert package_offenders(PACKAGE) == []


def test_the_guard_catches_a_planted_offender(tmp_path):
    pkg = tmp_path / "ssdnet"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "good.py").write_text(
        "import torch\n"
        "def f(z):\n"
        "    a = torch.eye(3, dtype=z.dtype, device=z.device)\n"
        "    b = torch.zeros_like(z)\n"
        "    c = torch.tensor([1.0], device='cpu')  # placed explicitly\n"
        "    d = torch.arange(4)  # device: an index that only ever meets CPU tensors\n"
        "    return a, b, c, d\n")
    (pkg / "sub" / "bad.py").write_text(
        "import torch\n"
        "def g(z):\n"
        "    cov = z @ z.T + 1e-3 * torch.eye(z.shape[0], dtype=z.dtype)\n"
        "    noise = torch.randn(\n"
        "        z.shape,\n"
        "    )\n"
        "    empty = torch.ones(2)  # device:\n"
        "    return cov, noise, empty\n")
    assert package_offenders(pkg) == ["ssdnet/sub/bad.py:3 torch.eye(...)",
                                      "ssdnet/sub/bad.py:4 torch.randn(...)",
                                      "ssdnet/sub/bad.py:7 torch.ones(...)"]
