"""What a comparison will cost before it runs, and whether a shared server takes it: the CPU
rates (calibration), the estimator of CPU-seconds and peak memory, and the limits with the
sentence that refuses a run over them."""
