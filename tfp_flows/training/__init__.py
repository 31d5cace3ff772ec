"""Training runs: warmup schedule, weight averages (EMA), run directories with atomic checkpoints, callbacks, sample grids."""
from tfp_flows.training.callbacks import RunCheckpoint, SampleGrid
from tfp_flows.training.ema import EMAWeights, uses_ema
from tfp_flows.training.images import class_grid_samples, grid, save_class_grid, save_sample_grid, to_uint8, write_png
from tfp_flows.training.runs import RunDir, RunError
from tfp_flows.models.schedules import LinearWarmup

__all__ = ["EMAWeights", "LinearWarmup", "RunCheckpoint", "RunDir", "RunError", "SampleGrid", "class_grid_samples", "grid", "save_class_grid", "save_sample_grid", "to_uint8", "uses_ema", "write_png"]
