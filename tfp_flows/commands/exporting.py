"""`tfp-flows export`: a TF Serving SavedModel of a run's best checkpoint."""
from __future__ import annotations

from tfp_flows.commands._runs import load_run


def export(args) -> int:
    from tfp_flows import export as export_lib

    _, _, model = load_run(args.run)
    path = export_lib.save(model, args.export_dir, version=args.version, overwrite=args.overwrite)
    print(f"Exported SavedModel to {path}")
    return 0
