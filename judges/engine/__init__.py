"""AI judges without Django: constitutions, prompts, verdicts, backends, calibration."""
