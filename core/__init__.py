"""Qt-free application logic: project store, import/export, jobs, active learning, demo data."""
