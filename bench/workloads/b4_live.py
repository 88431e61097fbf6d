"""B4 dispatcher live updates: not measured yet (the dispatcher's live endpoint was being built
at the same time as this harness)."""

from bench import core


def run(run: core.Run, config: dict) -> None:
    run.add(
        core.Row(
            "B4 live updates",
            "-",
            "not yet measured",
            None,
            note="dispatcher SSE endpoint was in progress when the harness was written",
        )
    )
