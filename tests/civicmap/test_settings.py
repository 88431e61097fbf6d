"""civicmap/settings.py reads the environment in one typed block at the top, nowhere else."""

import ast

from django.conf import settings

READERS = {"_str", "_int", "_float", "_bool", "_list", "_optional"}
BLOCK_END = "# " + "-" * 93


def test_every_environment_read_is_in_the_block_at_the_top():
    path = settings.BASE_DIR / "civicmap" / "settings.py"
    source = path.read_text(encoding="utf-8")
    block_end = source.splitlines().index(BLOCK_END) + 1  # the line that closes the block
    reads = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in READERS or (
                isinstance(node.func, ast.Attribute)
                and ast.unparse(node.func) in {"os.environ.get", "os.getenv"}
            ):
                reads.append((node.lineno, ast.unparse(node)[:60]))
    helpers_end = source.splitlines().index(
        next(line for line in source.splitlines() if line.startswith("# --- environment"))
    )
    outside = [(line, call) for line, call in reads if line > block_end]
    inside_block = [line for line, _ in reads if helpers_end < line < block_end]
    assert outside == [], f"environment read below the block: {outside}"
    assert len(inside_block) > 40  # the block is where the reads are
