"""One module per workload; each has `run(run: core.Run, config: dict)`."""

import importlib

MODULES = {
    "B1": "b1_geojson",
    "B2": "b2_tiles",
    "B3": "b3_page",
    "B4": "b4_live",
    "B5": "b5_routing",
    "B6": "b6_duplicates",
    "B7": "b7_search",
    "B8": "b8_photos",
    "B9": "b9_http",
    "B10": "b10_growth",
    "MEM": "mem_soak",
    "PLAN": "plan_bounded",
}


def get(name: str):
    return importlib.import_module(f"bench.workloads.{MODULES[name]}")
